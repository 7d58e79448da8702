"""Unpaired translation: two-domain data in every form (and bad layouts named), a short CycleGAN run that
learns to move held-out digits into the other domain, `genforge translate`, the server's /translate, export."""

import io
import os

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

import genforge
from genforge.cli import app
from genforge.errors import ConfigError, DataError
from genforge.evaluate.features import get_extractor
from genforge.modalities.image.dataset import load_data
from genforge.modalities.image.modality import ImageDataConfig
from genforge.modalities.image.translation_metrics import translation_figures
from genforge.run import build_model
from genforge.sample import export
from genforge.sample.translate import translate_files
from genforge.serve import create_app

from .conftest import tiny_config, trained
from .test_serve import CHROMIUM, browser_on

DOMAIN_METRICS = ("translation_domain_agreement", "translation_cycle_error")


def write_images(folder, n, shape, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"{i}.png")


def domain_folder(root, test=True, shape_b=(12, 12)):
    for side, shape in (("A", (12, 12)), ("B", shape_b)):
        write_images(root / f"train{side}", 6, shape)
        if test:
            write_images(root / f"test{side}", 2, shape, seed=1)
    return root


def test_cyclegan_folder_layout_makes_two_labelled_domains_with_their_own_test_split(tmp_path):
    data = load_data(ImageDataConfig(source=str(domain_folder(tmp_path / "d"))))
    assert data.class_names == ["A", "B"] and data.shape == (1, 12, 12)
    assert sorted(data.train_labels.tolist()) == [0] * 6 + [1] * 6 and sorted(data.test_labels.tolist()) == [0, 0, 1, 1]
    assert data.train_labels[:2].tolist() in ([0, 1], [1, 0])  # interleaved: data.limit keeps both domains
    no_test = load_data(ImageDataConfig(source=str(domain_folder(tmp_path / "e", test=False)), test_fraction=0.34))
    assert sorted(no_test.test_labels.tolist()) == [0, 0, 1, 1] and len(no_test.train) == 8  # a seeded split per side


def test_two_sources_are_the_two_domains(tmp_path):
    write_images(tmp_path / "other", 20, (8, 8))
    data = load_data(ImageDataConfig(source="digits", target=str(tmp_path / "other")))
    assert data.class_names == ["digits", "other"] and data.shape == (1, 8, 8)
    assert (data.train_labels == 1).sum() + (data.test_labels == 1).sum() == 20
    assert (data.train_labels == 0).sum() + (data.test_labels == 0).sum() == 1797


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda r: write_images(r / "trainA", 3, (8, 8)), ["trainB/", "expected the folders trainA/ and trainB/"]),
        (lambda r: (domain_folder(r, test=False), write_images(r / "testA", 2, (8, 8))), ["testB/"]),
        (lambda r: (write_images(r / "trainA", 3, (8, 8)), (r / "trainB").mkdir()), ["trainB", "no image files"]),
        (lambda r: domain_folder(r, shape_b=(12, 12, 3)), ["trainA holds 1-channel", "3-channel", "data.channels"]),
    ],
    ids=["no trainB", "testA alone", "empty side", "channels differ"],
)
def test_a_bad_domain_layout_is_named_with_what_is_expected(tmp_path, make, words):
    root = tmp_path / "layout"
    root.mkdir()
    make(root)
    with pytest.raises(DataError) as e:
        load_data(ImageDataConfig(source=str(root)))
    assert str(root) in str(e.value) and all(w in str(e.value) for w in words), str(e.value)


def test_cyclegan_needs_two_domains(digits):
    with pytest.raises(ConfigError, match="two domains; this data set has 10 classes.*trainA/"):
        build_model(tiny_config("cyclegan"), digits.shape, digits.n_classes)


@pytest.fixture(scope="module")
def cyclegan_run(tmp_path_factory, ones_sevens):
    sets = ["train.steps=300", "train.batch_size=16", "train.lr_decay=linear", "train.balance=true"]
    cfg = tiny_config("cyclegan", *sets)
    return trained(cfg, tmp_path_factory.mktemp("cyclegan") / "run", ones_sevens)


@pytest.mark.integration
def test_a_short_cyclegan_run_moves_held_out_digits_into_the_other_domain(cyclegan_run, ones_sevens, tmp_path):
    ext = get_extractor(ones_sevens)
    untrained = build_model(tiny_config("cyclegan"), ones_sevens.shape, 2).eval()
    before = translation_figures(untrained, ones_sevens, ext, DOMAIN_METRICS)
    after = translation_figures(genforge.load(cyclegan_run[0]), ones_sevens, ext, DOMAIN_METRICS)
    for d in ("a2b", "b2a"):
        agree = after[f"domain_agreement_{d}"]
        # the data's classifier calls held-out 1s translated to B sevens (and back), untranslated ones not
        assert agree["value"] >= 0.8 and agree["identity"] <= 0.2 and agree["floor"] >= 0.9, (d, agree)
        assert after[f"cycle_error_{d}"]["value"] < 0.5 * before[f"cycle_error_{d}"]["value"], d


@pytest.mark.integration
def test_translate_command_writes_one_png_per_input_at_the_models_size(cyclegan_run, tmp_path):
    run, model = cyclegan_run
    write_images(tmp_path / "in", 3, (20, 30))  # any size: resized and cropped as training images were
    args = ["translate", str(run), "--input", str(tmp_path / "in"), "--out", str(tmp_path / "o")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0 and "translated 3 image(s) (a2b)" in res.output, res.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["0.png", "1.png", "2.png"]
    assert Image.open(tmp_path / "o" / "0.png").size == (8, 8)
    held_out = ["sample", str(run), "--mode", "held-out", "-n", "4", "--out", str(tmp_path / "r.png")]
    rows = CliRunner().invoke(app, held_out)
    assert rows.exit_code == 0 and "wrote 24 samples" in rows.output, rows.output  # A, A→B, A→B→A, B, ... rows of 4
    (tmp_path / "in" / "3.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="3.png: not a readable image"):
        translate_files(model, tmp_path / "in", tmp_path / "o")


def test_translation_is_refused_by_name_for_a_model_that_does_not_translate(digits, tmp_path):
    write_images(tmp_path / "in", 1, (8, 8))
    model = build_model(tiny_config("dcgan"), digits.shape, digits.n_classes)
    with pytest.raises(ConfigError, match="dcgan does not translate"):
        translate_files(model, tmp_path / "in", tmp_path / "o")


@pytest.mark.integration
def test_server_translates_an_upload_and_refuses_other_models(cyclegan_run):
    run, _ = cyclegan_run
    client = TestClient(create_app([run]))
    buf = io.BytesIO()
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(buf, format="PNG")
    r = client.post(f"/api/{run.name}/translate", params={"direction": "b2a"}, content=buf.getvalue())
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert client.post(f"/api/{run.name}/translate", content=b"junk").status_code == 400
    assert "Translate an image" in client.get("/").text  # the page's panel, for models that translate


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_holds_both_generators_and_computes_what_pytorch_computes(ones_sevens, tmp_path, fmt):
    model = build_model(tiny_config("cyclegan"), ones_sevens.shape, 2).eval()
    path = export(model, fmt, tmp_path / f"t.{fmt}")
    x, y = torch.rand(5, 1, 8, 8) * 2 - 1, torch.tensor([1, 0, 1, 1, 0])  # a batch size other than the traced one
    with torch.no_grad():
        want = model.translate(x, y).numpy()
    if fmt == "onnx":
        ort = pytest.importorskip("onnxruntime")
        got = ort.InferenceSession(str(path)).run(None, {"images": x.numpy(), "y": y.numpy()})[0]
    else:
        got = torch.jit.load(str(path))(x, y).detach().numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.integration
@pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"
)
def test_browser_translates_an_uploaded_image_on_the_page(cyclegan_run, tmp_path):
    run, _ = cyclegan_run
    write_images(tmp_path / "up", 1, (20, 20))
    with browser_on(create_app([run])) as (page, url):
        page.goto(url)
        page.wait_for_selector("#tr_go")  # the image widget's panel, for a model that translates
        page.set_input_files("#tr_file", str(tmp_path / "up" / "0.png"))
        page.select_option("#tr_dir", "b2a")
        page.click("#tr_go")
        page.wait_for_function("document.getElementById('tr_img')?.src.startsWith('blob:')")
        page.wait_for_function("document.getElementById('tr_img').naturalWidth > 0")
