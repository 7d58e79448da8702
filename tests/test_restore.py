"""Restoration with a trained run: inpainting and super-resolution by latent optimisation beat the plain
fills on held-out digits, keep what was known, and bad masks or inputs are named."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from typer.testing import CliRunner

from genforge.cli import app
from genforge.errors import ConfigError, DataError
from genforge.modalities.image.dataset import to_float
from genforge.restore import Degradation, box_mask, restore
from genforge.run import resolve_config

from .conftest import QUIET, trained


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory, digits):
    run = tmp_path_factory.mktemp("restore") / "vae"
    return trained(resolve_config("vae", sets=["train.steps=800", *QUIET]), run, digits)


@pytest.mark.integration
def test_inpainting_fills_the_hole_better_than_the_plain_fills_and_keeps_the_known(vae_run, digits):
    _, model = vae_run
    x = to_float(digits.tensor("test")[:100])
    known = box_mask(model.shape, (2, 2, 4, 4), len(x))
    out = restore(model, x * known, Degradation(known=known), steps=150, restarts=4)
    hole = 1 - known
    err = lambda a: float(((a - x) ** 2 * hole).sum() / hole.sum())  # noqa: E731
    mean_fill = x * known + hole * ((x * known).flatten(1).sum(1) / known.flatten(1).sum(1)).view(-1, 1, 1, 1)
    assert err(out) < 0.5 * err(mean_fill) and err(out) < 0.75 * err(x * known)  # x * known: the hole left grey
    assert torch.equal(out * known, (x * known).clamp(-1, 1))  # the known pixels are pasted back exactly


@pytest.mark.integration  # the module's VAE trains 800 steps
def test_super_resolution_beats_bilinear_and_downscales_back_to_its_input(vae_run, digits):
    _, model = vae_run
    x = to_float(digits.tensor("test")[:100])
    low = F.avg_pool2d(x, 2)
    out = restore(model, low, Degradation(scale=2), steps=150, restarts=4)
    bilinear = F.interpolate(low, scale_factor=2, mode="bilinear", align_corners=False)
    assert float((out - x).pow(2).mean()) < 0.7 * float((bilinear - x).pow(2).mean())
    assert float((F.avg_pool2d(out, 2) - low).abs().mean()) < 0.02  # back-projected (up to the clamp to [-1, 1])


def save(arr: np.ndarray, path):
    Image.fromarray(arr).save(path)
    return path


@pytest.mark.integration  # the module's VAE trains 800 steps
def test_restore_command_on_files_and_its_errors(vae_run, digits, tmp_path):
    run, _ = vae_run
    images = digits.tensor("test")[:3, 0].numpy()
    (tmp_path / "in").mkdir()
    for i, im in enumerate(images):
        save(im, tmp_path / "in" / f"d{i}.png")
    mask = np.zeros((8, 8), np.uint8)
    mask[2:6, 2:6] = 255  # white = missing
    save(mask, tmp_path / "mask.png")
    runner = CliRunner()
    args = ["restore", str(run), "--task", "inpaint", "--input", str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    res = runner.invoke(app, [*args, "--mask", str(tmp_path / "mask.png"), "--steps", "20", "--restarts", "2"])
    assert res.exit_code == 0, res.output
    outs = sorted((tmp_path / "out").glob("*.png"))
    assert [p.name for p in outs] == ["d0.png", "d1.png", "d2.png"]
    got = np.asarray(Image.open(outs[0]))
    assert got.shape == (8, 8) and np.array_equal(got[mask == 0], images[0][mask == 0])
    low = [save(im[::2, ::2].copy(), tmp_path / f"s{i}.png") for i, im in enumerate(images[:1])]
    res = runner.invoke(app, ["restore", str(run), "--task", "superres", "--scale", "2", "--input", str(low[0]),
                              "--out", str(tmp_path / "big"), "--steps", "5"])  # fmt: skip
    assert res.exit_code == 0 and np.asarray(Image.open(tmp_path / "big" / "s0.png")).shape == (8, 8)
    bad = {
        "small.png": (np.zeros((4, 4), np.uint8), "the mask is 4x4, the image it belongs to is 8x8"),
        "empty.png": (np.zeros((8, 8), np.uint8), "marks no pixel as missing"),
        "full.png": (np.full((8, 8), 255, np.uint8), "marks every pixel as missing"),
    }
    for name, (arr, match) in bad.items():
        res = runner.invoke(app, [*args, "--mask", str(save(arr, tmp_path / name))])
        assert isinstance(res.exception, DataError) and match in str(res.exception) and name in str(res.exception)
    res = runner.invoke(app, [*args, "--mask-box", "6,6,4,4"])
    assert isinstance(res.exception, ConfigError) and "inside the 8x8 image" in str(res.exception)
    res = runner.invoke(app, ["restore", str(run), "--task", "superres", "--scale", "2", "--input",
                              str(tmp_path / "in"), "--out", str(tmp_path / "x")])  # fmt: skip
    assert isinstance(res.exception, DataError) and "the image is 8x8, expected 4x4" in str(res.exception)
