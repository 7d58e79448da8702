"""Many tuning workers on one study: a real PostgreSQL server (a throwaway cluster on 127.0.0.1), two
worker processes, the trial budget held across them, the confirmation and final run done once."""

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest

from genforge.errors import ConfigError
from genforge.modalities.image.modality import ImageDataConfig
from genforge.tune import tune
from genforge.tune.pgcluster import bindir, start, stop
from genforge.tune.workers import counted_trials

from .conftest import small_space

pytestmark = pytest.mark.integration  # every test here starts processes


@pytest.fixture(scope="module")
def postgres():
    pytest.importorskip("psycopg", reason="pip install 'psycopg[binary]' (the test extra)")
    if bindir() is None:
        pytest.skip("no PostgreSQL server binaries: apt-get install postgresql (make postgres does)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="genforge-pg-"))  # in /tmp: the postgres user must reach it
    url = start(folder, port)
    yield url
    stop(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path / "cache"))
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def study_args(tmp_path, **kw):
    return (
        dict(
            family="vae",
            data_cfg=ImageDataConfig(source="digits"),
            trials=6,
            study_name="w",
            steps_per_trial=20,
            out_root=tmp_path,
            n_eval=150,
            extractor_steps=40,
            confirm_seeds=1,
            sets=("model.width=0.5", "model.hidden=32"),
            space_file=small_space(tmp_path),
            heartbeat=2,
            log=lambda s: None,
        )
        | kw
    )


def test_two_workers_on_postgresql_share_one_budget_and_one_best(tmp_path, postgres):
    # a heartbeat a busy machine cannot miss: a trial whose heartbeat thread is starved for twice the interval
    # is failed and queued again (a seventh trial), which is the dead-worker test's business, not this one's
    s = tune(**study_args(tmp_path, storage=postgres, workers=2, heartbeat=15))
    study = optuna.load_study(study_name="w", storage=postgres)
    counted = counted_trials(study)
    assert len(counted) == 6 and len(study.trials) == 6  # the cap holds: none lost, none run twice
    assert sorted(t.number for t in study.trials) == list(range(6))
    assert all(t.state.name == "COMPLETE" and (tmp_path / "w" / f"trial_{t.number:04d}").is_dir() for t in counted)
    assert len({t.user_attrs["worker"] for t in study.trials}) == 2  # both processes ran trials
    assert len({json.dumps(t.params, sort_keys=True) for t in study.trials}) == 6  # their samplers differ
    assert s["best"]["value"] == min(t.value for t in counted) and (tmp_path / "w" / "best").is_dir()
    assert sorted(p.name for p in (tmp_path / "w").glob("confirm_seed*")) == ["confirm_seed1"]
    joined = tune(**study_args(tmp_path, storage=postgres, join=True, worker_id=7))  # budget met: nothing to do
    assert joined["trials_run"] == 0 and len(optuna.load_study(study_name="w", storage=postgres).trials) == 6


def test_a_journal_file_serves_two_workers(tmp_path):
    tune(**study_args(tmp_path, storage=f"journal:{tmp_path / 'study.log'}", workers=2, trials=4))
    study = optuna.load_study(
        study_name="w",
        storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "study.log"))),
    )
    assert len(counted_trials(study)) == len(study.trials) == 4 and (tmp_path / "w" / "best").is_dir()


def test_sqlite_is_refused_for_many_workers(tmp_path):
    with pytest.raises(ConfigError, match="--workers 2 needs a storage many processes can share"):
        tune(**study_args(tmp_path, workers=2))


def test_a_killed_worker_leaves_its_trial_failed_and_the_study_runs_it_again(tmp_path, postgres):
    """A worker joined from another process is SIGKILLed mid-trial; its heartbeat stops, and the next worker
    fails the trial, queues its parameters again and still meets the budget exactly."""
    cmd = [sys.executable, "-m", "genforge", "tune", "--model", "vae", "--data", "digits", "--study", "k"]
    cmd += ["--out", str(tmp_path), "--trials", "3", "--steps-per-trial", "400", "--eval-samples", "150"]
    cmd += ["--storage", postgres, "--join", "--heartbeat", "2", "--extractor-steps", "40"]
    cmd += ["--set", "model.width=0.5", "--set", "model.hidden=32", "--space", small_space(tmp_path)]
    joined = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            running = [
                t for t in optuna.load_study(study_name="k", storage=postgres).trials if t.state.name == "RUNNING"
            ]
        except KeyError:  # the study is not created yet
            running = []
        if running:
            break
        time.sleep(0.5)
    joined.kill()
    joined.wait()
    assert running, "the joined worker never started a trial"
    tune(**study_args(tmp_path, storage=postgres, study_name="k", trials=3, steps_per_trial=20))
    study = optuna.load_study(study_name="k", storage=postgres)
    failed = [t for t in study.trials if t.state.name == "FAIL"]
    assert [t.number for t in failed] == [running[0].number] and len(counted_trials(study)) == 3
    retry = next(t for t in study.trials if t.system_attrs.get("failed_trial") == failed[0].number)
    # the retry keeps every parameter the killed trial had drawn (a kill during suggest leaves only some)
    assert retry.state.name == "COMPLETE" and retry.params.items() >= failed[0].params.items()
