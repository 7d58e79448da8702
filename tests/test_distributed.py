"""Training on several processes (torchrun, gloo on the CPU): every process holds the same weights, the
global batch gives the same training as one process, and a run resumes exactly under torchrun."""

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

pytestmark = pytest.mark.integration  # every test here starts processes

QUIET = ["train.log_every=10", "train.sample_every=1000", "train.checkpoint_every=10", "train.deterministic=true"]


def command(args: list[str], procs: int) -> list[str]:
    """`genforge ARGS` as one process, or as `procs` processes under torchrun (standalone: a free port)."""
    if procs == 1:
        return [sys.executable, "-m", "genforge", *args]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs),
            "-m", "genforge", *args]  # fmt: skip


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc): torchrun starts its workers in sessions of their own, so a
    signal to the launcher's process group misses them, and a worker left alive keeps the output pipe open."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def launch(args: list[str], procs: int, env: dict, timeout: float = 300) -> tuple[int, str]:
    """(exit status, output) of the command; on a timeout the launcher and every worker are killed."""
    proc = subprocess.Popen(command(args, procs), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for pid in [*descendants(proc.pid), proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f"still running after {timeout} s: {out[-2000:]}") from None
    return proc.returncode, out


def genforge(args: list[str], procs: int, env: dict) -> None:
    rc, out = launch(args, procs, env)
    assert rc == 0, out[-2000:]


def sets(*items: str) -> list[str]:
    return [a for s in (*QUIET, *items) for a in ("--set", s)]


@pytest.fixture
def env(tmp_path):
    return dict(os.environ, OMP_NUM_THREADS="1", GENFORGE_CACHE=str(tmp_path / "cache"))


def test_two_processes_train_as_one_with_the_same_global_batch(tmp_path, env, text_folder):
    """text-lm without dropout has no noise: two processes of 8 sentences each = one process of 16."""
    args = ["train", "--model", "text-lm", "--data", str(text_folder), "--steps", "20", "--no-progress"]
    args += sets("model.embed=32", "model.hidden=32", "model.dropout=0.0", "train.batch_size=16",
                 "data.vocab_size=400", "data.max_tokens=24", "train.threads=1")  # fmt: skip
    genforge([*args, "--out", str(tmp_path / "one")], 1, env)
    genforge([*args, "--out", str(tmp_path / "two")], 2, env)
    one, two = (load_file(str(tmp_path / r / "model.safetensors")) for r in ("one", "two"))
    worst = max(float((one[k] - two[k]).abs().max()) for k in one)
    assert worst < 1e-4, worst
    status = json.loads((tmp_path / "two" / "status.json").read_text())
    assert status["processes"] == 2 and status["ranks_agree"] is True
    lines = [json.loads(x) for x in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "loss" in r] == [10, 20]  # rank 0 alone writes


def test_a_gan_resumed_under_torchrun_continues_exactly(tmp_path, env):
    """Both networks of a GAN averaged across processes; every rank's noise stream saved and resumed."""
    args = ["train", "--model", "dcgan", "--data", "digits", "--no-progress"]
    args += sets("model.width=0.25", "train.batch_size=32", "model.ema=0.9", "train.threads=1")
    genforge([*args, "--steps", "40", "--out", str(tmp_path / "straight")], 2, env)
    genforge([*args, "--steps", "20", "--out", str(tmp_path / "resumed")], 2, env)
    genforge(["train", "--resume", str(tmp_path / "resumed"), "--steps", "40", "--no-progress"], 2, env)
    a, b = (load_file(str(tmp_path / r / "model.safetensors")) for r in ("straight", "resumed"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((tmp_path / "resumed" / "status.json").read_text())["ranks_agree"] is True


def test_a_global_batch_that_does_not_divide_is_named(tmp_path, env):
    args = ["train", "--model", "vae", "--data", "digits", "--steps", "2", "--out", str(tmp_path / "r")]
    rc, out = launch([*args, "--set", "train.batch_size=33"], 2, env)
    assert rc != 0 and "train.batch_size=33 is the global batch and must divide among 2" in out


@pytest.mark.parametrize("family", ["vae", "wavegan", "specgan", "specvae", "text-vae", "cyclegan"])
def test_every_family_trains_on_two_processes(tmp_path, env, family, text_folder):
    from genforge.models import FAMILIES

    from .conftest import DATA_SETS

    fam = FAMILIES.get(family)
    source = {"image": "digits", "text": str(text_folder), "audio": "spoken-digits"}[fam.modality]
    source = "ones2sevens" if "translate" in fam.abilities else source  # two domains
    args = ["train", "--model", family, "--data", source, "--steps", "6", "--out", str(tmp_path / "r"), "--no-progress"]
    genforge(args + sets(*fam.tiny, *DATA_SETS[fam.modality], "train.batch_size=16", "train.threads=1"), 2, env)
    assert json.loads((tmp_path / "r" / "status.json").read_text())["ranks_agree"] is True


def test_a_killed_process_stops_the_others_and_the_run_resumes(tmp_path, env):
    """SIGKILL one of two processes mid-run: torchrun stops the other, which says why; the checkpoint is
    intact and all processes resume from it."""
    import time
    from pathlib import Path

    from genforge.faults import check_files

    run = tmp_path / "r"
    args = ["train", "--model", "dcgan", "--data", "digits", "--steps", "3000", "--out", str(run), "--no-progress"]
    args += sets("model.width=0.25", "train.batch_size=32", "train.threads=1")
    launcher = subprocess.Popen(command(args, 2), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)  # fmt: skip
    deadline = time.time() + 120
    while not (run / "train_state.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    rank1 = [p for p in Path("/proc").glob("[0-9]*") if _is_rank(p, 1, str(run))]
    assert rank1, "no rank-1 process found"
    os.kill(int(rank1[0].name), signal.SIGKILL)
    out, _ = launcher.communicate(timeout=120)
    assert launcher.returncode != 0
    assert "--resume" in out and ("stopped at step" in out), out[-2000:]
    assert check_files(run) == []
    genforge(["train", "--resume", str(run), "--steps", "60", "--no-progress"], 2, env)
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "finished" and status["step"] >= 60 and status["ranks_agree"] is True


def _is_rank(proc, rank: int, marker: str) -> bool:
    """Whether /proc/PID is a genforge training process of rank `rank` whose command line names `marker`."""
    try:
        cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        environ = (proc / "environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return marker in cmdline and "torch.distributed.run" not in cmdline and f"RANK={rank}".encode() in environ
