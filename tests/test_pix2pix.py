"""The restoration family: corruptions make the training pairs, a short pix2pix run restores held-out digits
better than the plain fills, `genforge restore` uses it for its own task only, and bad specs are named."""

import base64
import io

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from genforge.cli import app
from genforge.errors import ConfigError
from genforge.modalities.image.corruption import Corruption, gaussian_blur, upscale
from genforge.modalities.image.dataset import to_float
from genforge.report import write_report
from genforge.restore import Degradation, restore_with
from genforge.run import resolve_config
from genforge.serve import create_app

from .conftest import QUIET, trained


def test_corruptions_damage_as_specified_and_are_seeded():
    x = torch.rand(64, 1, 8, 8) * 2 - 1
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    damaged, known = Corruption.parse("random:0.5")(x, gen())
    assert 0.4 < 1 - float(known.mean()) < 0.6 and torch.equal(damaged, x * known)
    assert torch.equal(known, Corruption.parse("random:0.5")(x, gen())[1])  # same generator, same mask
    damaged, known = Corruption.parse("box")(x, gen())
    holes = (1 - known).flatten(1).sum(1)
    assert bool((holes >= 1).all()) and bool((holes < 64).all())
    damaged, known = Corruption.parse("downscale:4")(x, gen())
    assert torch.allclose(damaged, upscale(torch.nn.functional.avg_pool2d(x, 4), 4)) and not known.any()
    assert torch.allclose(Corruption.parse("blur:1.5")(x)[0], gaussian_blur(x, 1.5))
    noisy = Corruption.parse("noise:0.1")(x, gen())[0]
    assert 0.1 < float((noisy - x).std()) < 0.3  # std 0.1 in [0, 1] units is 0.2 in [-1, 1], less the clamping


@pytest.mark.parametrize(
    "spec, words", [("zoom", "unknown corruption"), ("downscale", "whole factor"), ("random:1.5", "between 0 and 1")]
)
def test_a_bad_corruption_is_named_with_what_is_expected(spec, words):
    with pytest.raises(ConfigError, match=words) as e:
        resolve_config("pix2pix", sets=[f"model.corruption={spec}"])
    assert "model.corruption" in str(e.value)


@pytest.fixture(scope="module")
def pix2pix_run(tmp_path_factory, digits):
    run = tmp_path_factory.mktemp("pix2pix") / "random"
    return trained(
        resolve_config("pix2pix", sets=["model.corruption=random:0.5", "train.steps=400", *QUIET]), run, digits
    )


@pytest.mark.integration
def test_pix2pix_learns_to_fill_missing_pixels_of_held_out_digits(pix2pix_run, digits):
    _, model = pix2pix_run
    x = to_float(digits.tensor("test")[:200])
    damaged, known = Corruption.parse("random:0.5")(x, torch.Generator().manual_seed(1))
    out = restore_with(model, "inpaint", damaged, Degradation(known=known))
    hole = 1 - known
    err = lambda a: float(((a - x) ** 2 * hole).sum() / hole.sum())  # noqa: E731
    mean_fill = damaged + hole * (damaged.flatten(1).sum(1) / known.flatten(1).sum(1)).view(-1, 1, 1, 1)
    assert err(out) < 0.5 * err(mean_fill), (err(out), err(mean_fill))
    assert torch.equal(out * known, damaged)  # what was known comes back unchanged


@pytest.mark.integration  # the module's pix2pix model trains 400 steps
def test_pix2pix_samples_restore_damaged_held_out_images(pix2pix_run):
    run, _ = pix2pix_run
    import genforge

    model = genforge.load(run)  # loading gives it the run's held-out split to sample from
    inputs, clean = model.pairs(16, torch.Generator().manual_seed(0))
    assert inputs.shape == (16, 2, 8, 8) and clean.shape == (16, 1, 8, 8)
    assert torch.equal(model.sample(16, seed=5), model.sample(16, seed=5))


@pytest.mark.integration  # the module's pix2pix model trains 400 steps
def test_restore_command_runs_a_pix2pix_model_on_its_own_task_only(pix2pix_run, digits, tmp_path):
    run, _ = pix2pix_run
    (tmp_path / "in").mkdir()
    for i, im in enumerate(digits.tensor("test")[:3, 0].numpy()):
        Image.fromarray(im).save(tmp_path / "in" / f"d{i}.png")
    mask = np.zeros((8, 8), np.uint8)
    mask[::2] = 255  # every other row missing
    Image.fromarray(mask).save(tmp_path / "mask.png")
    cli = CliRunner()
    args = ["restore", str(run), "--input", str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    r = cli.invoke(app, [*args, "--task", "inpaint", "--mask", str(tmp_path / "mask.png")])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["d0.png", "d1.png", "d2.png"]
    r = cli.invoke(app, [*args, "--task", "denoise"])
    assert isinstance(r.exception, ConfigError)
    assert "trained to undo `random:0.5`" in str(r.exception) and "--task inpaint" in str(r.exception)


def png_bytes(arr: np.ndarray, mode: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.integration  # the module's pix2pix model trains 400 steps
def test_server_restores_an_upload_whose_holes_are_transparent(pix2pix_run, digits):
    run, _ = pix2pix_run
    client = TestClient(create_app([run]))
    url = f"/api/{run.name}/restore"
    im = digits.tensor("test")[0, 0].numpy()
    alpha = np.full_like(im, 255)
    alpha[2:6, 2:6] = 0
    r = client.post(url, params={"format": "json"}, content=png_bytes(np.stack([im, alpha], -1), "LA"))
    assert r.status_code == 200, r.text
    shown, restored = (np.asarray(Image.open(io.BytesIO(base64.b64decode(b)))) for b in r.json()["images"])
    assert (shown[2:6, 2:6] == 0).all() and (restored[alpha > 0] == im[alpha > 0]).all()  # known pixels kept
    assert client.post(url, params={"box": "1,1,3,3"}, content=png_bytes(im, "L")).status_code == 200
    r = client.post(url, content=png_bytes(im, "L"))
    assert r.status_code == 422 and "transparent holes" in r.text
    r = client.post(url, params={"task": "superres", "scale": 2}, content=png_bytes(im[::2, ::2].copy(), "L"))
    assert r.status_code == 422 and "trained to undo" in r.text
    r = client.post(url, content=png_bytes(np.zeros((5, 5), np.uint8), "L"))
    assert r.status_code == 422 and "the image is 5x5, expected 8x8" in r.text


@pytest.mark.integration  # the module's pix2pix model trains 400 steps
def test_report_shows_damaged_restored_and_truth_rows(pix2pix_run):
    run, _ = pix2pix_run
    page = write_report(run).read_text()
    assert "damaged as in training, restored, and the truth" in page and page.count("<img") >= 2
