"""Tuning workers: processes that take trials of one Optuna study from a shared storage until its budget
is met. Optuna does the coordination (its RDB storage on PostgreSQL, or its journal file); genforge adds
the trial budget counted across workers, the heartbeat that fails and re-queues a dead worker's trial,
and local worker processes.

    genforge tune ... --storage postgresql+psycopg://USER@HOST/DB --study fm --workers 2   # here: 2 workers
    genforge tune ... --storage postgresql+psycopg://USER@HOST/DB --study fm --join        # one more, anywhere
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import optuna
import torch
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

from ..errors import ConfigError
from ..evaluate import get_extractor
from ..modalities import modality_of
from ..models import FAMILIES
from .space import load_space, suggest
from .trials import PlateauStop, TargetStop, train_and_score

STATES = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
MAX_RETRY = 2  # a configuration whose process dies three times is given up (counted as a failed trial)


@dataclass(frozen=True)
class StudySpec:
    """Everything a worker needs to run trials of a study (sent to worker processes as it is)."""

    family: str
    data_cfg: object
    trials: int
    study_name: str
    storage: str
    budget: dict
    space_file: Optional[str]
    out_root: str
    n_eval: int
    eval_every: Optional[int]
    target: Optional[float]
    plateau: Optional[int]
    max_minutes: Optional[float]
    sets: tuple[str, ...]
    extractor_steps: Optional[int]
    seed: int
    objective: str
    heartbeat: int


def storage_for(url: str, heartbeat: int):
    """Optuna's storage for `url`. An RDB URL (sqlite:///, postgresql+psycopg://, mysql://) gets a heartbeat
    every `heartbeat` s: a trial silent for twice that long is stale, marked failed and queued again with
    the same parameters. `journal:FILE` is Optuna's journal file (no heartbeat: a dead worker's trial stays
    running and is not counted)."""
    if url.startswith("journal:"):
        return optuna.storages.JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}  # the heartbeat thread writes too
    with warnings.catch_warnings():  # the heartbeat is marked experimental since optuna 2.8; it is the documented way
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url,
            engine_kwargs=kwargs,
            heartbeat_interval=heartbeat,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
        )


def open_study(spec: StudySpec, worker: int) -> optuna.Study:
    """The study (created by the first to ask), with a sampler seeded per worker so that workers do not
    propose the same parameters."""
    study = optuna.create_study(
        study_name=spec.study_name,
        storage=storage_for(spec.storage, spec.heartbeat),
        direction="minimize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=spec.seed + 1000 * worker),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
    )
    study.set_user_attr("family", spec.family)
    return study


def counted_trials(study: optuna.Study) -> list:
    """Finished trials, each configuration once: a trial failed because its process died and queued again
    is replaced by its retry."""
    retried = {n for t in study.trials for n in t.system_attrs.get("retry_history", ())}
    return [t for t in study.trials if t.state in STATES and t.number not in retried]


def committed(study: optuna.Study) -> int:
    """Trials counted, running somewhere or queued: what the budget has already been spent on."""
    busy = (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING)
    return len(counted_trials(study)) + sum(t.state in busy for t in study.trials)


class ReservationLock:
    """One worker at a time looks at the budget and starts a trial: held from the look until the new trial is
    RUNNING in the storage, so that two workers never both take the last place (Optuna's MaxTrialsCallback
    looks after a trial and asks for the next one unlocked, and so overshoots with many workers). On
    PostgreSQL a session advisory lock (freed by the server when a worker's connection dies); on a journal
    file Optuna's own lock file (`FILE.budget.lock`, broken after 30 s if its holder died); SQLite has one
    worker and needs none."""

    def __init__(self, url: str, study_name: str):
        self.held, self._conn = False, None
        if url.startswith("journal:"):
            lock = JournalFileOpenLock(url.removeprefix("journal:") + ".budget")
            self._acquire, self._release = lock.acquire, lock.release
        elif url.startswith("postgresql"):
            # deferred: only the PostgreSQL lock needs sqlalchemy (optuna's RDB storage brings it)
            import sqlalchemy

            key = int.from_bytes(hashlib.sha256(f"genforge-study:{study_name}".encode()).digest()[:8], signed=True)
            engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
            self._conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            lock, unlock = (sqlalchemy.text(f"SELECT pg_advisory_{f}(:k)") for f in ("lock", "unlock"))
            self._acquire = lambda: self._conn.execute(lock, {"k": key})
            self._release = lambda: self._conn.execute(unlock, {"k": key})
        else:
            self._acquire = self._release = lambda: None

    def acquire(self) -> None:
        self._acquire()
        self.held = True

    def release(self) -> None:
        """Free the lock if this worker holds it (called as a trial starts, and again after it)."""
        if self.held:
            self.held = False
            self._release()

    def close(self) -> None:
        self.release()
        if self._conn is not None:
            self._conn.close()


def work(spec: StudySpec, worker: int, log=print, data=None, ext=None, drain: int = 0) -> int:
    """Run trials of the study as worker `worker` until the budget is met or a stop rule fires (or, with
    `drain`, that many queued trials); returns how many trials this worker ran."""
    data = data if data is not None else modality_of(FAMILIES.get(spec.family)).load(spec.data_cfg)
    ext = ext if ext is not None else get_extractor(data, steps=spec.extractor_steps, log=log)
    space, root = load_space(spec.family, spec.space_file), Path(spec.out_root) / spec.study_name
    study, ran = open_study(spec, worker), 0

    def run_trial(trial: optuna.Trial) -> float:
        nonlocal ran
        lock.release()  # the trial is RUNNING in the storage: it counts for every worker now
        ran += 1
        trial.set_user_attr("worker", f"{os.uname().nodename}:{os.getpid()}")
        trial_sets = [*spec.sets, *suggest(trial, space)]

        def report(value: float, step: int) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"{spec.objective} {value:.4g} at step {step}")

        run = root / f"trial_{trial.number:04d}"
        try:
            res = train_and_score(
                spec.family, trial_sets, spec.data_cfg, data, ext, run, spec.budget, spec.n_eval, report,
                spec.eval_every, spec.objective,
            )  # fmt: skip
        except optuna.TrialPruned:
            raise
        except Exception as e:
            trial.set_user_attr("error", f"{type(e).__name__}: {e}")
            raise
        trial.set_user_attr("run", res["run"])
        trial.set_user_attr("fid_noise", (res["interval"][1] - res["interval"][0]) / 2)
        sets = ", ".join(trial_sets)
        log(f"trial {trial.number}: {spec.objective} {res['fid']:.4g} after {res['steps']} steps ({sets})")
        return res["fid"]

    rules = ([TargetStop(spec.target)] if spec.target is not None else []) + (
        [PlateauStop(spec.plateau)] if spec.plateau else []
    )
    t0, lock = time.perf_counter(), ReservationLock(spec.storage, spec.study_name)

    def more() -> bool:
        """Is there a trial for this worker to start? Asked under the lock."""
        if drain:  # queued trials only, never past the budget
            return ran < drain and any(t.state == optuna.trial.TrialState.WAITING for t in study.trials)
        late = spec.max_minutes is not None and time.perf_counter() - t0 > spec.max_minutes * 60
        return not late and not any(r.fired for r in rules) and committed(study) < spec.trials

    try:
        while True:
            lock.acquire()
            try:
                if not more():
                    break
                # one trial: a queued one first (a dead worker's retry), else a new one; run_trial frees the lock
                study.optimize(run_trial, n_trials=1, callbacks=rules, catch=(Exception,), gc_after_trial=True)
            finally:
                lock.release()
    finally:
        lock.close()
    return ran


def _worker_process(spec: StudySpec, worker: int, threads: int) -> None:
    torch.set_num_threads(threads)
    work(spec, worker, log=lambda s: print(f"worker {worker}: {s}", flush=True))


@contextlib.contextmanager
def local_workers(spec: StudySpec, workers: int, log=print):
    """Start workers 1..workers-1 as processes (the caller is worker 0), the cores shared among all; wait for
    them on leaving. A worker that dies is named; its trial is failed and retried by the heartbeat."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    if workers > 1:
        torch.set_num_threads(threads)
        log(f"{workers} workers on this machine, {threads} thread(s) each")
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch thread pools
    procs = [ctx.Process(target=_worker_process, args=(spec, i, threads)) for i in range(1, workers)]
    for p in procs:
        p.start()
    try:
        yield
    finally:
        for i, p in enumerate(procs, 1):
            p.join()
            if p.exitcode:
                log(f"worker {i} exited with status {p.exitcode}; its running trial is retried by the study")


def beat_once(study: optuna.Study, beaten: set[int]) -> None:
    """Record one heartbeat for each running trial not seen before. Optuna fails a trial only once its last
    heartbeat is old and never one without any: a worker killed between creating its trial and its heartbeat
    thread's first beat would leave the trial running for ever, and `settle` waiting on it. With this beat a
    live worker's own heartbeats keep the trial fresh, and a dead worker's goes stale one grace period later."""
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if t.number not in beaten:
            study._storage.record_heartbeat(t._trial_id)  # Optuna's fail_stale_trials reads study._storage too
            beaten.add(t.number)


def settle(study: optuna.Study, spec: StudySpec, log=print, data=None, ext=None, t0: Optional[float] = None) -> None:
    """Wait until no trial of the study is running anywhere (workers joined from other machines too), and
    run the trials a dead worker left queued while the budget allows, so the best comes from a settled study.
    `study.trials` reads the storage afresh at each look."""
    beaten: set[int] = set()
    while True:
        if not spec.storage.startswith("journal:"):
            beat_once(study, beaten)
            with warnings.catch_warnings():  # experimental since optuna 2.9, like the heartbeat itself
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)  # a dead worker's trial: failed and queued again
        states = [t.state for t in study.trials]
        waiting = states.count(optuna.trial.TrialState.WAITING)
        timed_out = spec.max_minutes is not None and t0 is not None and time.perf_counter() - t0 > spec.max_minutes * 60
        if optuna.trial.TrialState.RUNNING in states:
            time.sleep(spec.heartbeat * (0.5 + random.random()))
        elif waiting and not timed_out:
            log(f"running the {waiting} trial(s) a stopped worker left queued")
            work(spec, 0, log, data, ext, drain=waiting)
        else:
            return


def check_workers(workers: int, join: bool, storage: str) -> None:
    """Many workers need a storage many processes can share."""
    if (workers > 1 or join) and storage.startswith("sqlite"):
        raise ConfigError(
            f"{'--join' if join else f'--workers {workers}'} needs a storage many processes can share: "
            "--storage postgresql+psycopg://USER@HOST/DB (`make postgres` starts one here) or --storage journal:FILE; "
            "SQLite is for one worker"
        )
