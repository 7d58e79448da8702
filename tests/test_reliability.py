"""Reliability: nothing unsafe is loaded, wrong weights are refused by name, a full disk loses nothing."""

import ast
from pathlib import Path

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
