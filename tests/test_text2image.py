"""Text-to-image: captions.csv and the measured Fashion-MNIST captions become labels with their words, and a
short text2image run on digits draws what a prompt names; prompts it cannot read are named errors."""

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from sklearn.linear_model import LogisticRegression

from genforge.errors import ConfigError, DataError
from genforge.modalities.image.bench_text2image import parse_caption
from genforge.modalities.image.captions import attribute_words, caption, measure, thresholds
from genforge.modalities.image.dataset import load_data
from genforge.run import resolve_config
from genforge.sample import prior_samples
from genforge.serve import create_app
from genforge.train import Trainer

from .conftest import QUIET, tiny_config, trained
from .test_cli import gf


def folder_with_captions(tmp_path, digits, lines):
    for i, im in enumerate(digits.train[:4, :, :, 0]):
        Image.fromarray(im).save(tmp_path / f"d{i}.png")
    (tmp_path / "captions.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def test_captions_csv_makes_the_captions_the_labels(tmp_path, digits):
    rows = ["file,caption", "d0.png,A Round Zero", "d1.png,一个细的一", "d2.png,a round zero"]
    data = load_data(resolve_config("dcgan", sets=[f"data.source={folder_with_captions(tmp_path, digits, rows)}"]).data)
    assert data.class_names == ["a round zero", "一个细的一"]  # lower-cased, distinct, sorted; any language
    names = [data.class_names[i] for i in np.concatenate([data.train_labels, data.test_labels])]
    assert sorted(names) == ["a round zero", "a round zero", "一个细的一"]
    assert any("d3.png" in p and "no caption" in why for p, why in data.problems)


@pytest.mark.parametrize(
    "rows, words",
    [(["name,text", "d0.png,x"], "expected a header line `file,caption`"), (["file,caption", "d0.png,"], "line 2")],
)
def test_a_bad_captions_file_is_named(tmp_path, digits, rows, words):
    with pytest.raises(DataError, match=words) as e:
        load_data(resolve_config("dcgan", sets=[f"data.source={folder_with_captions(tmp_path, digits, rows)}"]).data)
    assert "captions.csv" in str(e.value)


def test_measured_attributes_split_each_class_in_thirds_and_read_as_words():
    rng = np.random.default_rng(0)
    images = (rng.random((600, 28, 28, 1)) * 255 * rng.random((600, 1, 1, 1))).astype(np.uint8)
    labels = np.repeat([0, 1], 300)
    words = attribute_words(measure(images), labels, thresholds(images, labels, 2))
    for a, w in words.items():
        for k in (0, 1):
            shares = np.bincount(w[labels == k], minlength=3) / 300
            assert np.allclose(shares, 1 / 3, atol=0.03), (a, k, shares)  # ties in pixel counts aside
    assert caption("Ankle boot", {"brightness": 0, "size": 2}) == "a dark large ankle boot"
    assert caption("Bag", {"brightness": 1, "size": 1}) == "a bag"
    names = ["Bag", "Ankle boot"]
    assert parse_caption("a dark large ankle boot", names) == (1, {"brightness": 0, "size": 2})  # and back
    assert parse_caption("a bag", names) == (0, {"brightness": 1, "size": 1})


def train_t2i(digits, run, mode_seeking: float):
    """A text2image model trained 700 steps on digits, whose captions are the digit names."""
    return trained(
        tiny_config("text2image", "train.steps=700", f"model.mode_seeking={mode_seeking}", *QUIET), run, digits
    )


@pytest.fixture(scope="module")
def t2i(digits, tmp_path_factory):
    return train_t2i(digits, tmp_path_factory.mktemp("t2i") / "run", 0.0)


@pytest.mark.integration
def test_a_prompt_draws_what_it_names(t2i, digits):
    _, model = t2i
    clf = LogisticRegression(max_iter=2000).fit(digits.train.reshape(len(digits.train), -1) / 255, digits.train_labels)
    for digit in range(10):
        s, labels = prior_samples(model, 100, prompt=str(digit))
        assert labels is None
        agree = (clf.predict(s.reshape(100, -1) / 255) == digit).mean()
        assert agree > 0.5, (digit, agree)  # chance: 0.1


@pytest.mark.integration
def test_the_mode_seeking_term_keeps_a_prompt_s_samples_apart(t2i, digits, tmp_path):
    """Without it, a caption's samples collapse towards one picture (the noise is ignored)."""
    _, plain = t2i
    _, seeking = train_t2i(digits, tmp_path / "ms", 0.1)

    def spread(model) -> float:  # mean pixel distance between two samples of the prompt
        return float(torch.pdist(torch.from_numpy(prior_samples(model, 100, prompt="5")[0]).flatten(1) / 255.0).mean())

    assert spread(seeking) > 1.5 * spread(plain), (spread(seeking), spread(plain))


@pytest.mark.integration  # the module's text2image model trains 700 steps
def test_prompts_it_cannot_take_are_named(t2i, digits, tmp_path):
    _, model = t2i
    with pytest.raises(ConfigError, match="is 200 bytes; this model reads at most 96"):
        prior_samples(model, 2, prompt="x" * 200)
    with pytest.raises(ConfigError, match="a class or a prompt"):
        prior_samples(model, 2, label=3, prompt="3")
    plain = Trainer(tiny_config("dcgan", "train.steps=2"), tmp_path, data=digits, progress=False, log=lambda s: None)
    with pytest.raises(ConfigError, match="takes no text prompt"):
        prior_samples(plain.model, 2, prompt="3")
    with pytest.raises(ConfigError, match="always conditioned on captions"):
        resolve_config("text2image", sets=["model.conditional=false"])


@pytest.mark.integration  # the module's text2image model trains 700 steps
def test_the_server_draws_a_prompt(t2i):
    run, _ = t2i
    client = TestClient(create_app([run]))
    assert "prompt" in client.get("/api/models").json()[run.name]["abilities"]
    a = client.get(f"/api/{run.name}/generate", params={"n": 4, "prompt": "3"})
    b = client.get(f"/api/{run.name}/generate", params={"n": 4, "prompt": "7"})
    assert a.status_code == b.status_code == 200 and a.content != b.content
    r = client.get(f"/api/{run.name}/generate", params={"prompt": "y" * 150})
    assert r.status_code == 422 and "reads at most 96" in r.text


@pytest.mark.integration
def test_cli_trains_on_a_captioned_folder_and_samples_a_prompt(tmp_path, digits):
    folder = tmp_path / "photos"
    folder.mkdir()
    rows = ["file,caption"]
    for i, (im, y) in enumerate(zip(digits.train[:60, :, :, 0], digits.train_labels[:60])):
        Image.fromarray(im).save(folder / f"{i}.png")
        rows.append(f"{i}.png,{'一个偶数' if y % 2 == 0 else 'an odd digit'}")
    (folder / "captions.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    r = gf("train", "--model", "text2image", "--data", folder, "--steps", "3", "--out", run, "--no-progress")
    assert r.returncode == 0, r.stderr
    r = gf("sample", run, "--prompt", "一个偶数", "-n", "4", "--out", tmp_path / "even.npz")
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path / "even.npz")["images"].shape == (4, 8, 8, 1)
