"""Conditional generation: a class-conditional GAN (projection discriminator) and a CVAE,
`genforge sample --class`, labelled samples.npz, class-aware evaluation, export and server."""

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from sklearn.linear_model import LogisticRegression

import genforge
from genforge.errors import ConfigError
from genforge.models import FAMILIES
from genforge.run import resolve_config
from genforge.sample import class_index, export, prior_samples
from genforge.serve import create_app
from genforge.train import Trainer

from .conftest import tiny_config
from .test_cli import gf

STEPS = {"vae": 400, "dcgan": 500}  # about 6 s and 10 s on one core


@pytest.fixture(scope="module")
def cond_runs(tmp_path_factory, digits):
    out = {}
    for fam, steps in STEPS.items():
        d = tmp_path_factory.mktemp("cond") / f"c{fam}"
        Trainer(
            tiny_config(fam, "model.conditional=true", f"train.steps={steps}"),
            d,
            data=digits,
            progress=False,
            log=lambda s: None,
        ).fit()
        out[fam] = d
    return out


@pytest.fixture(scope="module")
def digit_classifier(digits):
    """A plain pixel classifier of real digits (about 96% on the test split), independent of genforge."""
    x = digits.train.reshape(len(digits.train), -1) / 255.0
    return LogisticRegression(max_iter=2000).fit(x, digits.train_labels)


@pytest.mark.integration
@pytest.mark.parametrize("family", ["vae", "dcgan"])
def test_samples_are_of_the_asked_class(cond_runs, digit_classifier, family):
    model = genforge.load(cond_runs[family])
    imgs, labels = [], []
    for c in range(10):
        x, y = prior_samples(model, 30, seed=c, label=c)
        imgs.append(x), labels.append(y)
    x, y = np.concatenate(imgs), np.concatenate(labels)
    assert (y == np.repeat(np.arange(10), 30)).all()
    agreement = (digit_classifier.predict(x.reshape(len(x), -1) / 255.0) == y).mean()
    assert agreement > 0.7, agreement  # chance is 0.1


def test_unpinned_samples_follow_the_training_class_mix(cond_runs, digits):
    model = genforge.load(cond_runs["vae"])
    shares = np.bincount(digits.train_labels, minlength=10) / len(digits.train_labels)
    assert torch.allclose(model.class_freq.double(), torch.from_numpy(shares), atol=1e-6)
    _, y = prior_samples(model, 2000, seed=0)
    assert np.abs(np.bincount(y, minlength=10) / 2000 - shares).max() < 0.03


def test_projection_discriminator_scores_depend_on_the_label():
    cfg = resolve_config("dcgan", sets=["model.width=0.25", "model.conditional=true", "model.spectral_norm=true"])
    m = FAMILIES.get("dcgan")(cfg.model, (1, 8, 8), n_classes=10)
    x = torch.randn(4, 1, 8, 8)
    a, b = m.D(x, torch.zeros(4, dtype=torch.long)), m.D(x, torch.ones(4, dtype=torch.long))
    assert a.shape == (4,) and not torch.allclose(a, b)
    assert hasattr(m.D.embed, "parametrizations")  # spectral norm reaches the class embedding too


def test_conditional_needs_labelled_data():
    cfg = resolve_config("vae", sets=["model.conditional=true"])
    with pytest.raises(ConfigError, match="needs labelled data with at least 2 classes; this data set has no labels"):
        FAMILIES.get("vae")(cfg.model, (1, 8, 8), n_classes=0)


@pytest.mark.integration
def test_class_names_and_errors(cond_runs, tmp_path, digits):
    model = genforge.load(cond_runs["dcgan"])
    assert class_index(model, "3") == 3 and class_index(model, None) is None
    with pytest.raises(ConfigError, match="unknown class 'cat'; expected one of: 0, 1, 2"):
        class_index(model, "cat")
    plain = tmp_path / "plain"
    Trainer(tiny_config("dcgan", "train.steps=2"), plain, data=digits, progress=False, log=lambda s: None).fit()
    with pytest.raises(ConfigError, match="this model is unconditional"):
        class_index(genforge.load(plain), "3")


@pytest.mark.integration
def test_cli_sample_class_writes_labels(cond_runs, tmp_path):
    r = gf("sample", cond_runs["dcgan"], "--class", "7", "-n", "12", "--out", tmp_path / "s.npz")
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "s.npz") as f:
        assert f["images"].shape == (12, 8, 8, 1) and (f["labels"] == 7).all()
    r = gf("sample", cond_runs["dcgan"], "-n", "50", "--out", tmp_path / "mix.npz")
    with np.load(tmp_path / "mix.npz") as f:
        assert len(set(f["labels"].tolist())) > 5  # the class mix, labelled
    r = gf("sample", cond_runs["dcgan"], "--class", "cat")
    assert r.returncode == 2 and "unknown class 'cat'" in r.stderr


@pytest.mark.integration
@pytest.mark.parametrize("family", ["vae", "dcgan"])
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_conditional_export_takes_labels(cond_runs, tmp_path, family, fmt):
    model = genforge.load(cond_runs[family])
    path = export(model, fmt, tmp_path / f"g.{fmt}")
    z, y = model.prior(5, torch.Generator().manual_seed(0)), torch.tensor([0, 3, 3, 9, 1])
    ref = model.decode(z, y).detach().numpy()
    if fmt == "onnx":
        ort = pytest.importorskip("onnxruntime")
        got = ort.InferenceSession(str(path)).run(None, {"z": z.numpy(), "y": y.numpy()})[0]
    else:
        got = torch.jit.load(str(path))(z, y).detach().numpy()
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_server_takes_a_class(cond_runs):
    client = TestClient(create_app([cond_runs["dcgan"], cond_runs["vae"]]))
    assert client.get("/api/models").json()["cdcgan"]["conditional"] is True
    a = client.get("/api/cdcgan/generate", params={"n": 4, "class": "2"})
    b = client.get("/api/cdcgan/generate", params={"n": 4, "class": "5"})
    assert a.status_code == 200 and a.content != b.content
    r = client.get("/api/cdcgan/generate", params={"class": "cat"})
    assert r.status_code == 422 and "unknown class 'cat'" in r.text
    assert client.get("/api/cvae/traverse", params={"dim": 1, "class": "4"}).status_code == 200
    assert client.get("/api/cvae/interpolate", params={"class": "4", "steps": 3}).status_code == 200
    r = client.post("/api/cvae/reconstruct", content=b"\x89PNG")
    assert r.status_code == 422 and "give the image's class" in r.text


def test_report_shows_a_row_per_class(cond_runs):
    from genforge.report import write_report

    page = write_report(cond_runs["vae"]).read_text()
    assert "8 samples of each class, one row per class (0, 1, 2" in page and "Latent traversals" in page


def test_training_grids_have_one_class_per_column(cond_runs):
    import io

    from PIL import Image

    from genforge.io import grid_png

    grid = Image.open(sorted((cond_runs["dcgan"] / "samples").glob("step_*.png"))[-1])
    ten_columns = Image.open(io.BytesIO(grid_png(np.zeros((64, 8, 8, 1), np.uint8), 10)))
    assert grid.size == ten_columns.size
