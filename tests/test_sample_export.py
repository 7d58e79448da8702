import numpy as np
import pytest
import torch
from PIL import Image

import genforge
from genforge.errors import ConfigError
from genforge.sample import export, interpolate, manifold, prior_samples, reconstructions, slerp, write_samples
from genforge.train import Trainer

from .conftest import tiny_config


@pytest.fixture(scope="module")
def runs(tmp_path_factory, digits):
    out = {}
    for fam, extra in (("dcgan", []), ("vae", ["model.latent_dim=2"])):
        d = tmp_path_factory.mktemp(fam)
        Trainer(tiny_config(fam, "train.steps=5", *extra), d, data=digits, progress=False, log=lambda s: None).fit()
        out[fam] = d
    return out


@pytest.mark.parametrize("family", ["dcgan", "vae"])
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_matches_pytorch(runs, tmp_path, family, fmt):
    model = genforge.load(runs[family])
    path = export(model, fmt, tmp_path / f"g.{fmt}")
    z = model.prior(5, torch.Generator().manual_seed(0))  # a batch size other than the one traced
    ref = model.decode(z).detach().numpy()
    if fmt == "onnx":
        ort = pytest.importorskip("onnxruntime")
        got = ort.InferenceSession(str(path)).run(None, {"z": z.numpy()})[0]
    else:
        got = torch.jit.load(str(path))(z).detach().numpy()
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_export_rejects_unknown_format(runs, tmp_path):
    with pytest.raises(ConfigError, match="onnx, torchscript"):
        export(genforge.load(runs["vae"]), "tflite", tmp_path / "x")


def test_write_images_png_npz_and_folder(runs, tmp_path):
    m = genforge.load(runs["dcgan"])
    imgs, labels = prior_samples(m, 10, seed=0)
    assert imgs.shape == (10, 8, 8, 1) and imgs.dtype == np.uint8 and labels is None  # unconditional
    write_samples(m, imgs, tmp_path / "g.png")
    assert Image.open(tmp_path / "g.png").size[0] >= 4 * 8
    write_samples(m, imgs, tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz") as f:
        assert np.array_equal(f["images"], imgs)
    write_samples(m, imgs, tmp_path / "folder")
    assert len(list((tmp_path / "folder").glob("*.png"))) == 10


def test_interpolation_endpoints_are_the_seeds_samples(runs):
    m = genforge.load(runs["dcgan"])
    path = interpolate(m, 3, 4, steps=6)
    assert path.shape[0] == 6
    assert np.array_equal(path[0], prior_samples(m, 1, seed=3)[0][0])
    a, b = torch.randn(8), torch.randn(8)
    mid = slerp(a, b, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.allclose(mid[0], a, atol=1e-5) and torch.allclose(mid[2], b, atol=1e-5)


def test_vae_reconstructions_and_manifold(runs):
    m = genforge.load(runs["vae"])
    rec = reconstructions(m, n=4)
    assert rec.shape == (8, 8, 8, 1)
    assert manifold(m, side=5).shape == (25, 8, 8, 1)
    with pytest.raises(ConfigError, match="needs a model that can reconstruct"):
        reconstructions(genforge.load(runs["dcgan"]))
