"""Reliability: nothing unsafe is loaded, wrong weights are refused by name, a full disk loses nothing."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "genforge"


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def _kw(call: ast.Call, name: str):
    return next((ast.unparse(k.value) for k in call.keywords if k.arg == name), None)


def test_no_unpickling_no_eval_no_unsafe_yaml_anywhere_in_the_package():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        where = path.relative_to(PACKAGE)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.split(".")[0] in ("pickle", "dill", "cloudpickle", "marshal", "shelve") for n in names):
                    problems.append(f"{where}:{node.lineno}: imports a pickle-like module")
        for call, name in _calls(tree):
            line = f"{where}:{call.lineno}: {name}"
            if name in ("eval", "exec", "compile", "__import__"):
                problems.append(f"{line} runs code from a string")
            elif name == "torch.load" and _kw(call, "weights_only") != "True":
                problems.append(f"{line} without weights_only=True")
            elif name.endswith("np.load") and _kw(call, "allow_pickle") != "False":
                problems.append(f"{line} without allow_pickle=False")
            elif name in ("yaml.load", "yaml.unsafe_load", "yaml.full_load"):
                problems.append(f"{line}: use yaml.safe_load")
            elif name == "torch.jit.load" and str(where) != "evaluate/features.py":
                problems.append(f"{line}: TorchScript only for a user's own extractor, by explicit path")
    assert not problems, "\n".join(problems)


def test_weights_of_another_config_or_family_are_refused_by_name(tmp_path, digits):
    import shutil

    import pytest

    import genforge
    from genforge.errors import RunError
    from genforge.train import Trainer

    from .conftest import tiny_config

    quiet = {"progress": False, "log": lambda s: None}
    for name, sets in (("a", ["model.latent_dim=16"]), ("b", ["model.latent_dim=8"])):
        Trainer(tiny_config("vae", "train.steps=2", *sets), tmp_path / name, data=digits, **quiet).fit()
    Trainer(tiny_config("dcgan", "train.steps=2"), tmp_path / "g", data=digits, **quiet).fit()
    for donor in ("b", "g"):  # another latent size; another family
        shutil.copy(tmp_path / donor / "model.safetensors", tmp_path / "a" / "model.safetensors")
        with pytest.raises(RunError, match=r"a/model.safetensors: weights do not match the config"):
            genforge.load(tmp_path / "a")


def test_a_full_disk_is_named_and_the_last_good_file_kept(tmp_path, monkeypatch):
    import errno
    import os

    import pytest

    from genforge.errors import RunError
    from genforge.io import atomic_write

    target = tmp_path / "model.safetensors"
    atomic_write(target, b"good weights")
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(RunError, match=r"model.safetensors: no space left on the device.*previous .* is intact"):
        atomic_write(target, b"new weights that do not fit")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert target.read_bytes() == b"good weights" and [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


# Regression tests for what the fuzz campaign (python -m genforge.fuzz) found: each input ended in a traceback.


def test_damaged_or_empty_arrays_are_named(tmp_path):
    import io

    import numpy as np
    import pytest

    from genforge.errors import DataError
    from genforge.modalities.image.dataset import load_data
    from genforge.modalities.image.modality import ImageDataConfig

    buf = io.BytesIO()
    np.save(buf, np.zeros((4, 8, 8), np.uint8))
    blob = bytearray(buf.getvalue())
    blob[blob.index(b"(") + 1] = ord("(")  # the header's shape tuple left open: numpy's tokenizer fails
    cases = {"header.npy": bytes(blob)}
    for name, arr in {
        "zero_width.npy": np.zeros((3, 4, 0), np.uint8),
        "none.npy": np.zeros((0, 4, 4), np.uint8),
        "complex.npy": np.zeros((3, 4, 4), np.complex64),
    }.items():
        buf = io.BytesIO()
        np.save(buf, arr)
        cases[name] = buf.getvalue()
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(DataError, match=name):
            load_data(ImageDataConfig(source=str(tmp_path / name)))


def test_an_idx_folder_without_images_is_named(tmp_path):
    import pytest

    from genforge.errors import DataError
    from genforge.modalities.image.dataset import load_data
    from genforge.modalities.image.modality import ImageDataConfig

    (tmp_path / "train-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3]) + (0).to_bytes(4, "big") + bytes(8))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + (0).to_bytes(4, "big"))
    with pytest.raises(DataError, match="train-images-idx3-ubyte: no images"):
        load_data(ImageDataConfig(source=str(tmp_path)))


def test_text_with_no_samples_names_the_file(tmp_path):
    import pytest

    from genforge.errors import DataError
    from genforge.modalities.text.modality import TextDataConfig
    from genforge.modalities.text.textset import load_text

    (tmp_path / "blank.txt").write_text("\n \n\x1b[31m\n")
    with pytest.raises(DataError, match="blank.txt"):
        load_text(TextDataConfig(source=str(tmp_path / "blank.txt")))


def test_hostile_yaml_configs_are_refused_briefly(tmp_path):
    import time

    import pytest

    from genforge.errors import ConfigError
    from genforge.run import resolve_config

    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"model:\n  width: \xff\xfe\n")
    with pytest.raises(ConfigError, match="binary.yaml is not UTF-8"):
        resolve_config("dcgan", config_file=binary)
    levels = ["&a0 [lol]"] + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    bomb = tmp_path / "laughs.yaml"  # a billion 'lol's once its aliases are expanded
    bomb.write_text(f"model:\n  width: [{', '.join(levels)}, *a9]\n")
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="laughs.yaml: expands to more than 100,000 values") as e:
        resolve_config("dcgan", config_file=bomb)
    assert time.perf_counter() - t0 < 5 and len(str(e.value)) < 300
    wide = tmp_path / "wide.yaml"  # an invalid value under the cap is quoted, not printed whole
    wide.write_text("model:\n  width: [" + ", ".join(["[lol, lol, lol, lol, lol, lol]"] * 5000) + "]\n")
    with pytest.raises(ConfigError, match="model.width") as e:
        resolve_config("dcgan", config_file=wide)
    assert len(str(e.value)) < 400


def test_damaged_run_files_are_named_and_status_survives(tmp_path, digits):
    import shutil

    import pytest

    import genforge
    from genforge.errors import RunError
    from genforge.report import write_report
    from genforge.run import read_status
    from genforge.train import Trainer

    from .conftest import tiny_config

    quiet = {"progress": False, "log": lambda s: None}
    for name, family in (("g", "dcgan"), ("v", "vae")):
        Trainer(tiny_config(family, "train.steps=2", "train.log_every=1"), tmp_path / name, data=digits, **quiet).fit()
    run = tmp_path / "g"
    (run / "status.json").write_bytes(b"\xff{")
    (run / "metrics.jsonl").write_bytes((run / "metrics.jsonl").read_bytes() + b'{"step": \xff\n[1]\n{"step": "x"}\n')
    assert read_status(run)["state"] == "finished"
    assert write_report(run).is_file()  # damaged metrics lines are left out of the curves
    resumed = tiny_config("dcgan", "train.steps=3", "train.log_every=1")
    Trainer(resumed, run, data=digits, resume=True, **quiet).fit()  # and out of the resumed run's metrics
    good = (run / "config.json").read_bytes()
    for content, match in (
        (b"\xff\xfe", "not a valid JSON file"),
        (b"[1, 2]", "not a valid genforge config .expected an object with dataset.shape"),
        (good.replace(b'"family": "dcgan"', b'"family": ["dcgan"]'), "family: expected a family name"),
    ):
        (run / "config.json").write_bytes(content)
        with pytest.raises(RunError, match="config.json: " + match):
            genforge.load(run)
    (run / "config.json").write_bytes(good)
    shutil.copy(tmp_path / "v" / "train_state.pt", run / "train_state.pt")  # a VAE's state in a GAN run
    with pytest.raises(RunError, match="train_state.pt: weights do not match the config"):
        Trainer(tiny_config("dcgan", "train.steps=4", "train.log_every=1"), run, data=digits, resume=True, **quiet)


@pytest.mark.integration
def test_a_full_disk_stops_training_and_the_last_checkpoint_resumes(tmp_path, digits):
    """A real small file system (tmpfs) fills up after the step-10 checkpoint: the error says so, the
    checkpoint is intact, and once space is freed the run resumes to its end."""
    import shutil
    import subprocess

    import pytest

    import genforge
    from genforge.errors import RunError
    from genforge.run import load_state, read_status
    from genforge.train import Hook, Trainer

    from .conftest import tiny_config

    disk = tmp_path / "small"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)")
    try:

        def fill(tr):  # after the checkpoint of step 10, leave 2 KiB free
            if tr.step == 10:
                (disk / "filler").write_bytes(b"\0" * (shutil.disk_usage(disk).free - 2048))

        quiet = {"progress": False, "log": lambda s: None}
        cfg = tiny_config("dcgan", "train.steps=30", "train.checkpoint_every=10", "train.sample_every=5")
        with pytest.raises(RunError, match="no space left on the device"):
            Trainer(cfg, disk / "run", data=digits, hooks=(Hook(10, fill),), **quiet).fit()
        assert load_state(disk / "run")["step"] == 10 and genforge.load(disk / "run") is not None
        assert read_status(disk / "run")["state"] != "finished"
        (disk / "filler").unlink()
        assert Trainer(cfg, disk / "run", data=digits, resume=True, **quiet).fit() == 30
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_edited_weights_or_training_state_are_refused_by_their_checksums(tmp_path, digits):
    import pytest
    from safetensors.torch import load_file, save_file

    import genforge
    from genforge.errors import RunError
    from genforge.run import load_state
    from genforge.train import Trainer

    from .conftest import tiny_config

    run = tmp_path / "run"
    Trainer(tiny_config("dcgan", "train.steps=2"), run, data=digits, progress=False, log=lambda s: None).fit()
    good_weights, good_state = (run / "model.safetensors").read_bytes(), (run / "train_state.pt").read_bytes()
    for name, good, loader, match in (
        ("model.safetensors", good_weights, genforge.load, "weights do not match their checksum"),
        ("train_state.pt", good_state, load_state, "training state does not match its checksum"),
    ):
        edited = bytearray(good)
        edited[len(good) // 2] ^= 0x01  # one bit inside the tensor data: the file still parses
        (run / name).write_bytes(bytes(edited))
        with pytest.raises(RunError, match=f"{name}: the {match}"):
            loader(run)
        (run / name).write_bytes(good)
    save_file(load_file(str(run / "model.safetensors")), str(run / "model.safetensors"))  # no checksum: older runs
    assert genforge.load(run) is not None


def test_an_image_over_the_pixel_limit_is_skipped_before_decoding(tmp_path, monkeypatch):
    from PIL import Image

    from genforge.modalities.image import folder as images
    from genforge.modalities.image.dataset import load_data
    from genforge.modalities.image.modality import ImageDataConfig

    for i in range(4):
        Image.new("L", (8, 8), 40 * i).save(tmp_path / f"small{i}.png")
    Image.new("L", (40, 40)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)  # PIL's 89 million, scaled down
    data = load_data(ImageDataConfig(source=str(tmp_path)))
    assert len(data.train) + len(data.test) == 4
    assert [(p.endswith("bomb.png"), "over the 1,000 limit" in r) for p, r in data.problems] == [(True, True)]
