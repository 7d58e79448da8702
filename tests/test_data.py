import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from genforge.errors import DataError
from genforge.modalities.image import builtin
from genforge.modalities.image.dataset import load_data, to_float, to_uint8
from genforge.modalities.image.modality import ImageDataConfig
from genforge.modalities.image.report import data_report, format_report


def write_idx(path, arr, gz=False):
    arr = np.asarray(arr, dtype=np.uint8)
    blob = (
        struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape) + arr.tobytes()
    )
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(blob)


def test_digits_is_split_with_labels_and_fingerprint(digits):
    assert digits.shape == (1, 8, 8)
    assert len(digits.train) + len(digits.test) == 1797
    assert digits.split.startswith("seeded") and digits.n_classes == 10
    assert digits.train.max() == 255
    again = load_data(ImageDataConfig(source="digits"))
    assert again.fingerprint == digits.fingerprint
    other = load_data(ImageDataConfig(source="digits", split_seed=1))
    assert other.fingerprint != digits.fingerprint


def test_preprocessing_resolution_and_channels_change_the_fingerprint(digits):
    d = load_data(ImageDataConfig(source="digits", resolution=16, channels=3))
    assert d.shape == (3, 16, 16) and d.fingerprint != digits.fingerprint


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder(tmp_path, gz):
    rng = np.random.default_rng(0)
    ext = ".gz" if gz else ""
    write_idx(tmp_path / f"train-images-idx3-ubyte{ext}", rng.integers(0, 255, (20, 6, 6)), gz)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{ext}", rng.integers(0, 3, 20), gz)
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{ext}", rng.integers(0, 255, (5, 6, 6)), gz)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{ext}", rng.integers(0, 3, 5), gz)
    d = load_data(ImageDataConfig(source=str(tmp_path)))
    assert d.split == "source" and len(d.train) == 20 and len(d.test) == 5 and d.shape == (1, 6, 6)


def test_truncated_idx_file_is_named(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((10, 4, 4)))
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-7])
    with pytest.raises(DataError, match=f"{p}.*truncated"):
        load_data(ImageDataConfig(source=str(tmp_path)))


def test_missing_fashion_mnist_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setattr(builtin, "FASHION_MNIST_DIR", tmp_path / "nowhere")
    with pytest.raises(DataError, match="apt-get install -y dataset-fashion-mnist.*--data"):
        load_data(ImageDataConfig(source="fashion-mnist"))


@pytest.mark.skipif(not builtin.FASHION_MNIST_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_has_its_own_split_and_class_names():
    d = load_data(ImageDataConfig(source="fashion-mnist", limit=1000))
    assert len(d.train) == 1000 and len(d.test) == 10_000 and d.shape == (1, 28, 28)
    assert d.class_names[8] == "Bag" and d.split == "source"


def make_folder(root, n=6, corrupt=True):
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")
    if corrupt:
        (root / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
        good = (root / "cats" / "0.png").read_bytes()
        (root / "cats" / "truncated.png").write_bytes(good[: len(good) // 2])


def test_image_folder_labels_resize_and_skipped_files(tmp_path):
    make_folder(tmp_path)
    d = load_data(ImageDataConfig(source=str(tmp_path), resolution=16, test_fraction=0.25))
    assert d.shape == (3, 16, 16) and d.class_names == ["cats", "dogs"]
    assert len(d.train) + len(d.test) == 12
    rep = data_report(d)
    paths = {p["path"] for p in rep["problems"]}
    assert str(tmp_path / "dogs" / "broken.jpg") in paths and str(tmp_path / "cats" / "truncated.png") in paths
    assert "broken.jpg" in format_report(rep)


def test_image_folder_strict_names_the_bad_file(tmp_path):
    make_folder(tmp_path)
    with pytest.raises(DataError, match="broken.jpg|truncated.png"):
        load_data(ImageDataConfig(source=str(tmp_path), strict=True))


def test_folder_with_nothing_usable_is_a_clear_error(tmp_path):
    (tmp_path / "a.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="none of the 1 image files"):
        load_data(ImageDataConfig(source=str(tmp_path)))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no image files"):
        load_data(ImageDataConfig(source=str(empty)))


def test_npz_float_nchw_with_labels(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (30, 3, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "d.npz", images=x, labels=rng.integers(0, 4, 30))
    d = load_data(ImageDataConfig(source=str(tmp_path / "d.npz")))
    assert d.shape == (3, 8, 8) and d.n_classes >= 1 and d.train.dtype == np.uint8
    np.save(tmp_path / "u.npy", rng.integers(0, 255, (10, 5, 5), dtype=np.uint8))
    assert load_data(ImageDataConfig(source=str(tmp_path / "u.npy"))).shape == (1, 5, 5)


@pytest.mark.parametrize(
    "content,match",
    [
        ({"imgs": np.zeros((3, 4, 4))}, "no image array.*images"),
        ({"images": np.full((3, 4, 4), 300.0)}, r"float values span \[300, 300\]"),
        ({"images": np.zeros((3, 4, 4, 5))}, "1 or 3 channels"),
        ({"images": np.zeros((3, 4, 4), np.uint8), "labels": [0, 1]}, "2 labels for 3 images"),
    ],
)
def test_bad_npz_names_file_and_problem(tmp_path, content, match):
    p = tmp_path / "bad.npz"
    np.savez(p, **content)
    with pytest.raises(DataError, match=match) as e:
        load_data(ImageDataConfig(source=str(p)))
    assert str(p) in str(e.value)


def test_corrupt_npz_is_named(tmp_path):
    p = tmp_path / "c.npz"
    p.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(DataError, match=str(p)):
        load_data(ImageDataConfig(source=str(p)))


def test_duplicates_are_reported(tmp_path):
    x = np.random.default_rng(0).integers(0, 255, (10, 4, 4), dtype=np.uint8)
    x[7] = x[2]
    x[9] = x[2]
    np.save(tmp_path / "dup.npy", x)
    rep = data_report(load_data(ImageDataConfig(source=str(tmp_path / "dup.npy"), test_fraction=0.2)))
    assert rep["duplicates"]["groups"] == 1 and rep["duplicates"]["extra_copies"] == 2


def test_unknown_source_suggests_name():
    with pytest.raises(DataError, match="did you mean 'digits'"):
        load_data(ImageDataConfig(source="digts"))


def test_scaling_round_trips():
    import torch

    u = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(to_uint8(to_float(u)), u)


def test_a_read_only_image_array_is_not_shared_with_the_tensors_training_writes(digits):
    """A memory-mapped cache is read-only: the training tensor is a copy of it (PyTorch warns, and writing
    through a tensor that shares it would change the cache), and no warning reaches the user."""
    import dataclasses
    import warnings

    cached = digits.train.copy()
    cached.setflags(write=False)
    data = dataclasses.replace(digits, train=cached)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = data.tensor("train")
    t += 1
    assert np.array_equal(cached, digits.train)
