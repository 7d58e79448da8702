"""The page at /: one HTML file whose script asks each modality's widget how to show its answers."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from ..modalities import MODALITIES

router = APIRouter(tags=["docs"])


@lru_cache(maxsize=1)
def page_html() -> str:
    """page.html with every registered modality's widget filled in."""
    widgets = ",\n".join(f"{json.dumps(m.name)}: {m.widget}" for m in MODALITIES.values())
    return (Path(__file__).parent / "page.html").read_text().replace("/*WIDGETS*/", widgets)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page():
    return page_html()
