"""Small file helpers shared by every stage: atomic writes, JSON, image grids."""

from __future__ import annotations

import base64
import errno
import html
import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import RunError

# the run directory contract's files (see run.py)
CONFIG, WEIGHTS, STATE, STATUS = "config.json", "model.safetensors", "train_state.pt", "status.json"

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        _raise_if_full(e, path, len(data), "the previous file is intact" if path.exists() else "it was not written")
        raise


def _raise_if_full(e: BaseException, path: Path, nbytes: int, kept: str) -> None:
    """A full disk (or quota) as a RunError that says so and what was kept; other errors pass."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        raise RunError(
            f"{path}: no space left on the device ({nbytes:,} bytes to write); {kept}. "
            "Free some space and run the command again (training: --resume)"
        ) from None


def write_json(path: str | Path, obj) -> None:
    atomic_write(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def read_json(path: str | Path):
    """A JSON file genforge wrote; a file that cannot be read, is not UTF-8 or is not JSON is a RunError
    naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise RunError(f"{path}: cannot be read ({e.strerror or e})") from None
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError both
        raise RunError(f"{path}: not a valid JSON file ({e})") from None


def read_jsonl(path: str | Path) -> list[dict]:
    """The JSON objects of a .jsonl file genforge appends to (none if it is missing); a line that is not one
    (cut off by a kill, damaged) is left out."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a metrics.jsonl (every value a number); a line that is not one (cut off by a kill,
    damaged) is left out."""
    number = (int, float)
    return [r for r in read_jsonl(path) if all(isinstance(v, number) and not isinstance(v, bool) for v in r.values())]


def append_jsonl(path: str | Path, *objs) -> None:
    """Append JSON lines, one an object, in one write (a line cut short by a kill or a full disk is skipped by
    its readers)."""
    lines = "".join(json.dumps(obj) + "\n" for obj in objs)
    try:
        with open(path, "a") as f:
            f.write(lines)
    except OSError as e:
        _raise_if_full(e, Path(path), len(lines), "the lines before it are intact")
        raise


def grid(images: np.ndarray, nrow: int | None = None, pad: int = 2, min_tile: int = 32) -> Image.Image:
    """uint8 [N, H, W, C] -> one PIL image, `nrow` tiles a row (default: square),
    upscaled by an integer factor (nearest) so each tile is at least `min_tile` px."""
    n, h, w, c = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    canvas = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i, img in enumerate(images):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        canvas[y : y + h, x : x + w] = img
    scale = max(1, math.ceil(min_tile / max(h, w)))
    out = Image.fromarray(canvas.squeeze(-1) if c == 1 else canvas)
    return out.resize((out.width * scale, out.height * scale), Image.Resampling.NEAREST) if scale > 1 else out


def png_bytes(img: Image.Image) -> bytes:
    """A PIL image encoded as PNG."""
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def grid_png(images: np.ndarray, nrow: int | None = None) -> bytes:
    """uint8 [N, H, W, C] -> the PNG bytes of their grid."""
    return png_bytes(grid(images, nrow))


def save_grid(path: str | Path, images: np.ndarray, nrow: int | None = None) -> None:
    atomic_write(path, grid_png(images, nrow))


def img_tag(png: bytes, alt: str, width: int | None = None, media: str = "image/png") -> str:
    """An <img> with the picture (PNG, or an animated GIF) embedded as a data URI (pages that open from disk,
    no network)."""
    w = f' width="{width}"' if width else ""
    return f'<img alt="{html.escape(alt)}"{w} src="data:{media};base64,{base64.b64encode(png).decode()}">'


def fig_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    # deferred: matplotlib is slow to import; only figures need it
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
