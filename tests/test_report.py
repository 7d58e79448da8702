import re

import pytest

from genforge.evaluate import evaluate_run
from genforge.report import write_report
from genforge.train import Trainer

from .conftest import tiny_config


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory, digits):
    run = tmp_path_factory.mktemp("vae")
    Trainer(
        tiny_config("vae", "train.steps=20", "model.latent_dim=2", "train.sample_every=10"),
        run,
        data=digits,
        progress=False,
        log=lambda s: None,
    ).fit()
    return run


def test_report_is_self_contained_with_every_section(vae_run, tmp_path, monkeypatch):
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path / "cache"))
    path = write_report(vae_run)
    page = path.read_text()
    for section in ("id='scenario'", "id='training'", "id='samples'", "id='quality'", "id='latent'"):
        assert section in page, section
    assert "No eval.json yet" in page and "manifold" in page
    assert not re.search(r"""(src|href)=["']https?:""", page)  # nothing fetched from the network
    assert page.count("data:image/png;base64,") >= 6
    evaluate_run(vae_run, n_samples=100, iwae_k=2, extractor_steps=50, log=lambda s: None)
    page = write_report(vae_run).read_text()
    assert "real-data floor" in page and "near_copy_share" in page and "memorization pairs" in page
    assert "share per class" in page or "per-class shares" in page
