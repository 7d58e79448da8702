"""Run directories written by genforge 0.1.0 before the modalities became folders (tests/fixtures/runs-0.1.0: a
tiny DCGAN on digits and a tiny text-lm on a small text file, made by that version's `genforge train`) load,
sample, evaluate, report and serve with today's code."""

import json
import shutil
from pathlib import Path

import pytest

import genforge

FIXTURES = Path(__file__).parent / "fixtures" / "runs-0.1.0"


@pytest.fixture
def old_runs(tmp_path) -> Path:
    """The fixture runs in a scratch folder, the text run pointed at its copied text file (its path was /tmp)."""
    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES, runs)
    cfg_path = runs / "text-lm" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["data"]["source"] = str(runs / "lines.txt")
    cfg_path.write_text(json.dumps(cfg))
    return runs


def test_old_runs_load_and_sample_as_their_modality(old_runs):
    from genforge.sample import prior_samples

    images, _ = prior_samples(genforge.load(old_runs / "dcgan"), 6, seed=0)
    assert images.shape == (6, 8, 8, 1) and images.dtype.name == "uint8"
    texts, _ = prior_samples(genforge.load(old_runs / "text-lm"), 5, seed=0)
    assert len(texts) == 5 and all(isinstance(t, str) for t in texts)
    again, _ = prior_samples(genforge.load(old_runs / "text-lm"), 5, seed=0)
    assert again == texts  # the saved tokenizer is read back: the same seed, the same text


@pytest.mark.integration
def test_old_runs_evaluate_report_and_serve(old_runs):
    from fastapi.testclient import TestClient

    from genforge.evaluate import evaluate_run
    from genforge.report import write_report
    from genforge.serve import create_app

    for name, figure in (("dcgan", "fid"), ("text-lm", "fd")):
        result = evaluate_run(old_runs / name, 64, [figure], extractor_steps=20)
        assert result["metrics"][figure]["value"] >= 0 and "floor" in result["metrics"][figure], name
        assert write_report(old_runs / name).stat().st_size > 1000
    client = TestClient(create_app([old_runs / "dcgan", old_runs / "text-lm"]))
    assert set(client.get("/api/models").json()) == {"dcgan", "text-lm"}
    png = client.get("/api/dcgan/generate", params={"n": 4})
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    text = client.get("/api/text-lm/generate", params={"n": 3, "format": "json"})
    assert text.status_code == 200, text.text


def test_old_runs_find_their_data_unchanged(old_runs):
    """The data a run was trained on still fingerprints as it did (the loaders' shared ending kept the recipe)."""
    from genforge.modalities import modality_of

    for name in ("dcgan", "text-lm"):
        model = genforge.load(old_runs / name)
        data = modality_of(model).load(model.run_config.data, old_runs / name)
        assert data.fingerprint == model.dataset_info["fingerprint"], name
