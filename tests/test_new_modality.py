"""A new kind of data is one folder: tests/fixtures/new_modality/points/ (2-D points, a point-gan family, a
widget) is put on the modalities' search path and nothing else changes; every command reaches it."""

import subprocess
import sys
from pathlib import Path

import pytest

FOLDER = Path(__file__).parent / "fixtures" / "new_modality"

SCRIPT = """
import json, sys
import genforge.modalities
genforge.modalities.__path__.append(sys.argv[1])  # as if the folder were src/genforge/modalities/points
from genforge.cli import main


def genforge(*argv):
    sys.argv = ["genforge", *argv]
    try:
        main()
    except SystemExit as e:
        assert e.code == 0, (argv, e.code)


genforge("data", "inspect", "two-moons")
genforge("train", "--help")
genforge("train", "--model", "point-gan", "--data", "two-moons", "--steps", "300", "--out", "runs/p", "--no-progress")
genforge("sample", "runs/p", "-n", "200", "--out", "p.csv")
genforge("evaluate", "runs/p", "--samples", "200", "--extractor-steps", "30", "--metrics", "fd,kid")
genforge("report", "runs/p")
genforge("models")
from fastapi.testclient import TestClient
from genforge.serve import create_app
client = TestClient(create_app(["runs/p"]))
print("served", client.get("/api/models").json()["p"]["modality"], client.get("/api/p/generate").status_code)
print("page", "2-D points" in client.get("/").text)
"""


@pytest.mark.integration
def test_a_modality_folder_reaches_every_command_with_no_other_change(tmp_path):
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(FOLDER)], capture_output=True, text=True, cwd=tmp_path, timeout=600
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout
    assert "1800 train / 200 test" in out  # data inspect, through the modality's own report
    assert "point-gan" in out and "two-moons" in out  # the help and `genforge models` list the new names
    assert "trained point-gan (default) to step 300" in out
    assert "wrote 200 samples to p.csv" in out and len((tmp_path / "p.csv").read_text().splitlines()) == 200
    assert "fd " in out and (tmp_path / "runs" / "p" / "eval.json").is_file()
    assert (tmp_path / "runs" / "p" / "report.html").stat().st_size > 1000
    assert "served points 200" in out and "page True" in out
