"""One training loop for every family; the family supplies only `train_step`.

The training split lives on the device as one uint8 tensor; each step indexes a
batch and scales it to [-1, 1], so there is no per-sample Python work. Losses are
summed on the device and read back only every `log_every` steps (no host sync per
step). Data order for epoch e is a permutation seeded by (seed, e), so a resumed
run needs only the step counter and the saved RNG state to continue exactly.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import torch
from tqdm.auto import tqdm

from ..config import RunConfigBase
from ..errors import ConfigError, RunError
from ..io import append_jsonl, atomic_write, read_metrics, write_json
from ..modalities import modality_of
from ..modalities.base import class_labels
from ..models import FAMILIES
from ..run import (
    STATE,
    WEIGHTS,
    apply_weights,
    build_model,
    load_state,
    load_weights,
    lock_run,
    read_config,
    save_config,
    save_state,
    save_weights,
    write_status,
)
from ..safety.card import write_card
from .batches import Balanced, Shuffled
from .distributed import (
    any_rank,
    gather_rng,
    is_main_process,
    join,
    leave,
    local_batch,
    local_device,
    mean_across,
    pick_device,
    ranks_agree,
    rng_state,
    set_rng_state,
    wrap,
)
from .events import MAX_ROLLBACKS, Diverged, Hook, Interrupted, interrupt_now
from .threads import ThreadTuner
from .trackers import Trackers
from .watch import watch_for


class Trainer:
    """Trains `cfg` into the run directory `run`; `fit()` returns the final step."""

    def __init__(
        self,
        cfg: RunConfigBase,
        run: str | Path,
        data=None,
        resume: bool = False,
        progress: bool = True,
        log: Callable[[str], None] = print,
        hooks: tuple[Hook, ...] = (),
    ):
        self.cfg, self.run, self.progress, self.log, self.hooks = cfg, Path(run), progress, log, hooks
        if not is_main_process():  # one voice: rank 0 logs and shows the bar
            self.progress, self.log = False, lambda s: None
        self._check_out(resume)
        self._place()
        self.modality = modality_of(FAMILIES.get(cfg.family))
        # a resumed run keeps the tokenizer (or other codec) it was trained with
        self.data = data if data is not None else self.modality.load(cfg.data, self.run if resume else None)
        self.report = self.modality.report(self.data)
        self._build_model()
        self.step, self.elapsed = 0, 0.0
        self.x = self.data.tensor("train", self.device)  # stored form: uint8 [N, C, H, W] images, [N, L] token ids
        self.y = self.model.training_labels(self.data, self.device)
        self.watch, self.x, self.y = watch_for(self.model, self.x, self.y, cfg.train, self.modality, self.data.codec)
        self._start(resume)
        self._plan_batches()
        self._prepare_outputs()

    def _check_out(self, resume: bool) -> None:
        """A fresh run never writes over a trained model."""
        if not resume and (self.run / WEIGHTS).exists():
            raise RunError(
                f"{self.run} already holds a trained model; pass --resume {self.run} to continue it, "
                "or choose another --out"
            )

    def _place(self) -> None:
        """Threads, determinism, the device, and the process group under torchrun."""
        t = self.cfg.train
        if isinstance(t.threads, int):
            torch.set_num_threads(t.threads)
        if t.deterministic:
            torch.use_deterministic_algorithms(True)
        self.device = pick_device(t.device)
        self.world = join(self.device)  # several processes under torchrun; rank 0 of 1 otherwise
        self.device = local_device(self.device, self.world)
        if self.world.enabled and t.threads == "auto":  # the cores are shared among this node's processes
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", 1))))
        # A measured thread count on the CPU; fixed when results must not depend on it.
        auto = t.threads == "auto" and self.device.type == "cpu" and not t.deterministic and not self.world.enabled
        self.threads = ThreadTuner() if auto else None

    def _build_model(self) -> None:
        """The family's networks from the seed, told what they need of the data, and their optimizers."""
        torch.manual_seed(self.cfg.train.seed)  # weights init
        self.model = build_model(self.cfg, self.data.shape, self.data.n_classes).to(self.device)
        self.model.codec = self.data.codec
        if self.model.conditional:  # sampling draws labels from the training class shares
            counts = torch.bincount(self.data.labels("train"), minlength=self.data.n_classes).float()
            self.model.class_freq.copy_(counts / counts.sum())
        if "from_data" in self.model.abilities:  # its previews and evaluations map held-out items
            held_out = lambda: (self.data.tensor("test"), self.data.labels("test"))  # noqa: E731
            self.model.use_held_out(held_out, self.modality.to_model)
        self.opts = self.model.configure_optimizers(self.cfg.train)

    def _start(self, resume: bool) -> None:
        """The last checkpoint of a resumed run, or a fresh run's data-dependent set-up and noise seed."""
        if resume:
            self._restore()
        else:
            self.model.fit_data(self.x, self.modality.to_model, self.data.class_names, self.y)
            torch.manual_seed(self._noise_seed(0))  # noise / dropout stream, independent of the init
        if is_main_process():
            self._trim_metrics()

    def _plan_batches(self) -> None:
        """Batch sizes (global and this process's), the batch order, the step budget and the watch's period."""
        t = self.cfg.train
        self.batch = min(t.batch_size, len(self.x))  # the global batch: this process takes local_batch of it
        self.local_batch = local_batch(self.batch, self.world)
        self.steps_per_epoch = len(self.x) // self.batch
        if t.balance and self.y is None:
            raise ConfigError(f"train.balance needs labelled data; {self.cfg.data.source} has no labels")
        self.batches = (
            Balanced(self.y, self.data.n_classes, self.batch, self.local_batch, self.world.rank, t.seed)
            if t.balance
            else Shuffled(len(self.x), self.batch, self.local_batch, self.world.rank, t.seed, self.device)
        )
        self.total = self._total_steps()
        self.watch_every = t.watch_every or (self.watch.every(self.steps_per_epoch) if self.watch else 0)

    def _prepare_outputs(self) -> None:
        """The preview grid's classes (one class per column), trackers, and the DDP wrappers."""
        t = self.cfg.train
        self.grid_y = None
        if self.model.conditional:
            self.grid_y = torch.arange(t.grid_size, device=self.device) % self.data.n_classes
        self.trackers = Trackers(t.log_to if is_main_process() else [], self.run)
        self._rollbacks = 0
        if self.world.enabled:
            wrap(self.model, self.device, t.sync_bn)

    def _noise_seed(self, step: int) -> int:
        """The seed of this process's noise stream for a run started (or, without saved states, resumed) at
        `step`: each process draws its own noise; rank 0 of a fresh run seeds as a single process does."""
        return self.cfg.train.seed + 1 + 7919 * self.world.rank + 104729 * step

    def _restore(self) -> None:
        saved_cfg, _ = read_config(self.run)
        if saved_cfg.model != self.cfg.model or saved_cfg.family != self.cfg.family:
            raise RunError(f"{self.run}: the model config differs from the saved one; a resumed run keeps its model")
        self._load_checkpoint()

    def _trim_metrics(self) -> None:
        """Drop metrics.jsonl lines logged after the step training starts from (a killed process wrote them:
        after its last checkpoint, or before its first; this run logs those steps again) and a last line cut
        off mid-write."""
        path = self.run / "metrics.jsonl"
        if path.is_file():
            keep = [r for r in read_metrics(path) if r.get("step", 0) <= self.step]
            atomic_write(path, "".join(json.dumps(r) + "\n" for r in keep).encode())

    def _load_checkpoint(self) -> None:
        """Weights, optimizers, step, time and RNG of the run's last checkpoint."""
        state = load_state(self.run)
        if "model" in state:
            apply_weights(self.model, state["model"], self.run / STATE)
        else:  # a run written before checkpoints held their weights
            load_weights(self.run, self.model)
        try:
            for name, opt in self.opts.items():
                opt.load_state_dict(state["optimizers"][name])
            self.step, self.elapsed = int(state["step"]), float(state["elapsed"])
            ranks = state.get("rng_ranks", [state["rng"]["torch"]])
            if len(ranks) == self.world.size:  # each process resumes its own noise stream
                set_rng_state(state["rng"] | {"torch": ranks[self.world.rank]}, self.device)
            else:  # saved at another world size (or by Ctrl-C, without every rank's): a fresh stream per rank
                torch.manual_seed(self._noise_seed(self.step))
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as e:
            raise RunError(f"{self.run / STATE}: a training state that does not fit this run ({e!r:.200})") from None

    def _total_steps(self) -> Optional[int]:
        t, limits = self.cfg.train, []
        if t.steps is not None:
            limits.append(t.steps)
        if t.epochs is not None:
            limits.append(math.ceil(t.epochs * self.steps_per_epoch))
        return min(limits) if limits else None

    def _autocast(self):
        if self.cfg.train.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def save_checkpoint(self, every_rank: bool = True) -> None:
        """The training state (weights included) first, then the weights file users load. Each write is atomic,
        and a process killed between the two leaves a state that resumes exactly: resuming reads the weights
        stored with the step, optimizers and RNG, never a model.safetensors newer or older than them.
        Under torchrun every rank's random state is gathered (a collective: `every_rank` False skips it)."""
        rng = rng_state(self.device)
        ranks = gather_rng(rng["torch"], self.world, self.device) if every_rank else None
        if not is_main_process():
            return
        state = {
            "step": self.step,
            "elapsed": self.elapsed,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizers": {k: o.state_dict() for k, o in self.opts.items()},
            "rng": rng,
        }
        save_state(self.run, state | ({"rng_ranks": ranks} if ranks and self.world.enabled else {}))
        save_weights(self.run, self.model, self.cfg, self.step)

    def save_samples(self) -> None:
        if not is_main_process():
            return
        was = self.model.training
        self.model.eval()
        with torch.no_grad():  # a decoder that samples (text) draws from its own seeded generator
            # fixed noise for every grid, from its own generator (leaves the training RNG alone), drawn from the
            # prior as it is now: a prior fitted when training ends (the VAE's mixture) shows in the last grid
            t = self.cfg.train
            z = self.model.prior(t.grid_size, torch.Generator().manual_seed(t.seed + 2), self.grid_y)
            gen = torch.Generator().manual_seed(t.seed + 3)
            stored = self.modality.to_stored(self.model.decode(z, self.grid_y, gen))
        self.model.train(was)
        names = class_labels(self.grid_y, self.data.class_names)
        preview = self.modality.preview(
            self.modality.to_samples(stored, self.data.codec),
            # a column per class (up to 16), at least 8 columns of a few classes
            None if self.grid_y is None else min(16, self.data.n_classes * max(1, 8 // self.data.n_classes)),
            names,
        )
        atomic_write(self.run / "samples" / f"step_{self.step:07d}{self.modality.preview_suffix}", preview)
        self.trackers.preview(self.step, preview, self.modality.preview_suffix)

    def _write_header(self) -> None:
        if not is_main_process():
            return
        self.run.mkdir(parents=True, exist_ok=True)
        self.modality.save_codec(self.data.codec, self.run)
        info = {
            "name": self.data.name,
            "modality": self.modality.name,
            "shape": list(self.data.shape),
            "n_classes": self.data.n_classes,
            "class_names": self.data.class_names,
            "fingerprint": self.data.fingerprint,
            "licence": self.report.get("licence"),
            "n_train": len(self.data.train),
            "n_test": len(self.data.test),
            "split": self.data.split,
        }
        save_config(self.run, self.cfg, info)
        write_json(self.run / "data.json", self.report)

    def _run_hooks(self, due: Callable[[int], bool]) -> None:
        if not is_main_process():  # evaluation during training runs once, on rank 0
            return
        for hook in self.hooks:
            if due(hook.every):
                was = self.model.training
                rec = hook.fn(self)
                self.model.train(was)
                if rec:
                    self._record(rec)

    def _record(self, rec: dict) -> None:
        """A record of figures measured during training: metrics.jsonl, the trackers and the log (rank 0)."""
        if not is_main_process():
            return
        self.trackers.scalars(self.step, rec)
        append_jsonl(self.run / "metrics.jsonl", {"step": self.step, "elapsed_s": round(self.elapsed, 2), **rec})
        self.log(f"step {self.step}: " + ", ".join(f"{k} {v:.4g}" for k, v in rec.items() if isinstance(v, float)))

    def _log_metrics(self, bar) -> None:
        """Mean losses since the last log, images/s, one line of metrics.jsonl (one host sync)."""
        now = time.perf_counter()
        sums = mean_across(self._sums, self.world)  # the global batch's losses, the same on every rank
        rec = {k: round(float(v) / self._n_sum, 5) for k, v in sums.items()}
        rate = (self.step - self._step_log) * self.batch / max(now - self._t_log, 1e-9)
        # images_per_s for images, texts_per_s for text, ...
        rec.update(
            {
                "step": self.step,
                "epoch": round(self.step / self.steps_per_epoch, 3),
                f"{self.modality.units}_per_s": round(rate, 1),
                "elapsed_s": round(self.elapsed, 2),
                "threads": torch.get_num_threads(),
            }
        )
        bad = [k for k in self._sums if not math.isfinite(rec[k])]
        if is_main_process():
            append_jsonl(self.run / "metrics.jsonl", rec)
            self.trackers.scalars(self.step, rec)
            write_status(self.run, "diverged" if bad else "training", self.step, total=self.total)
        if bad:  # stop before a checkpoint can write non-finite weights over the last good ones
            raise Diverged(self.run, self.step, bad)
        postfix = {k: rec[k] for k in self._sums} | {f"{self.modality.unit}/s": int(rate)}
        left = self._seconds_left(rate / self.batch)
        if left is not None:
            postfix["left"] = f"{left / 60:.1f}min"
        if bar.disable and self.progress:  # not a terminal (a log file): one plain line per interval
            budget = f"/{self.total}" if self.total else ""
            shown = (f"{v:.4g}" if isinstance(v, float) else str(v) for v in postfix.values())
            self.log(f"step {self.step}{budget}  " + "  ".join(f"{k} {v}" for k, v in zip(postfix, shown)))
        bar.set_postfix(postfix)
        self._sums, self._n_sum, self._t_log, self._step_log = {}, 0, now, self.step

    def _seconds_left(self, steps_per_s: float) -> Optional[float]:
        """Time to the first budget: the minutes left, or the steps left at the current rate."""
        t, left = self.cfg.train, []
        if t.minutes is not None:
            left.append(max(0.0, t.minutes * 60 - self.elapsed))
        if self.total is not None and steps_per_s > 0:
            left.append((self.total - self.step) / steps_per_s)
        return min(left) if left else None

    def fit(self) -> int:
        """Train until the first budget (steps, epochs, minutes) is spent; returns the step."""
        lock = lock_run(self.run) if is_main_process() else None  # one writer per run directory
        # torchrun stops the other processes with SIGTERM when one fails: handled like Ctrl-C
        on_term = self.world.enabled and threading.current_thread() is threading.main_thread()
        before = signal.signal(signal.SIGTERM, interrupt_now) if on_term else None
        try:
            return self._fit()
        except BaseException:
            on_term = on_term and not self._ignore_term()  # kept ignored while the error is printed
            raise
        finally:
            if on_term:
                signal.signal(signal.SIGTERM, before)
            self.trackers.close()
            if lock is not None:
                lock.close()
            leave(self.model)

    def _ignore_term(self) -> bool:
        """Under torchrun, once stopping: ignore its SIGTERM to survivors, which would end this process before it
        has saved and said why. True if done."""
        if not (self.world.enabled and threading.current_thread() is threading.main_thread()):
            return False
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        return True

    def _fit(self) -> int:
        self._write_header()
        self.log(self.modality.format_report(self.report))
        if self.report["problems"] and not self.cfg.data.strict:
            n = len(self.report["problems"])
            self.log(f"note: {n} input(s) skipped: files, lines or pairs (see {self.run / 'data.json'})")
        if self.step == 0:
            self.save_samples()
        self.model.train()
        bar = tqdm(
            total=self.total,
            initial=self.step,
            unit="step",
            # a bar needs a terminal: in a log file its carriage returns make one endless line
            disable=not self.progress or not sys.stderr.isatty(),
            dynamic_ncols=True,
            mininterval=1.0,
        )
        if is_main_process():
            write_status(self.run, "training", self.step, total=self.total)
        try:
            while True:
                try:
                    self._loop(bar)
                    break
                except Diverged as e:  # train.on_nan=rollback: back to the last checkpoint at half the lr
                    if not self._rollback(e):
                        raise
        except KeyboardInterrupt:  # Ctrl-C (torchrun passes it, and SIGTERM, to every process)
            self._ignore_term()
            bar.close()
            self.save_checkpoint(every_rank=False)  # no collective: another process may be gone already
            self._status("interrupted")
            raise Interrupted(self.run, self.step) from None
        except Diverged:
            bar.close()
            raise
        except Exception as e:
            self._ignore_term()
            with contextlib.suppress(RunError):  # a full disk may refuse the status too: keep the first error
                self._status("failed", error=f"{type(e).__name__}: {e}")
            if self.world.enabled and isinstance(e, RuntimeError):  # a collective failed: a peer process is gone
                raise RunError(
                    f"process {self.world.rank} of {self.world.size} stopped at step {self.step}: {str(e)[:300]}. "
                    f"The last checkpoint in {self.run} is intact; resume all processes with --resume {self.run}"
                ) from None
            raise
        bar.close()
        extra = {}
        if self.watch is not None and self.watch.stopped:
            extra["stopped_early"] = self.watch.restore(self.model, self.step)
            self.log(extra["stopped_early"])
        self.model.finish_training(self.x, self.y, self.modality.to_model)
        self.save_checkpoint()
        if self.step % self.cfg.train.sample_every:  # the final preview, unless just written
            self.save_samples()
        self._run_hooks(lambda every: self.step % every != 0)  # the final step, unless just done
        if self.world.enabled:
            extra |= {"processes": self.world.size, "ranks_agree": ranks_agree(self.model, self.world)}
            self.log(f"weights identical on all {self.world.size} processes: {extra['ranks_agree']}")
        self._status("finished", **extra)
        if is_main_process():
            write_card(self.run)
        return self.step

    def _loop(self, bar) -> None:
        """Steps until the first budget is spent (the body of training)."""
        t = self.cfg.train
        self._sums, self._n_sum, self._t_log, self._step_log = {}, 0, time.perf_counter(), self.step
        start_wall, start_elapsed = time.perf_counter(), self.elapsed
        while self.total is None or self.step < self.total:
            if t.minutes is not None and any_rank(self.elapsed >= t.minutes * 60, self.world, self.device):
                break
            if self.threads is not None:
                self.threads.tick()
            if t.lr_decay == "linear":
                self._decay_lr()
            idx = self.batches(self.step)
            x = self.modality.to_model(self.x[idx])
            y = None if self.y is None else self.y[idx]
            with self._autocast():
                losses = self.model.train_step(x, y, self.opts)
            for k, v in losses.items():  # summed on the device: no host sync per step
                self._sums[k] = self._sums[k] + v.float() if k in self._sums else v.float()
            self._n_sum += 1
            self.step += 1
            self.elapsed = start_elapsed + time.perf_counter() - start_wall
            bar.update(1)
            if self.step % t.log_every == 0:
                self._log_metrics(bar)
            side_work = False  # grids, checkpoints and hooks must not count as step time
            if self.step % t.sample_every == 0:
                self.save_samples()
                side_work = True
            if self.step % t.checkpoint_every == 0:
                self.save_checkpoint()
                side_work = True
            if any(self.step % h.every == 0 for h in self.hooks):
                self._run_hooks(lambda every: self.step % every == 0)
                side_work = True
            if self.watch is not None and self.step % self.watch_every == 0:
                self._record(self.watch.check(self.model, self.step))  # every rank: the same weights, one verdict
                side_work = True
                if self.watch.stopped:
                    break
            if side_work and self.threads is not None:
                self.threads.restart_window()
        if self._n_sum:
            self._log_metrics(bar)

    def _decay_lr(self) -> None:
        """train.lr_decay=linear (pix2pix, CycleGAN): every lr at its initial value for the first half of the
        budget (steps or minutes, whichever is spent first), then linearly down to 0 at its end."""
        t, done = self.cfg.train, []
        if self.total is not None:
            done.append(self.step / self.total)
        if t.minutes is not None:
            done.append(self.elapsed / (t.minutes * 60))
        scale = min(1.0, 2.0 * (1.0 - max(done)))
        for opt in self.opts.values():
            for group in opt.param_groups:  # `initial_lr` is saved with the optimizer, as torch's schedulers do
                group["lr"] = group.setdefault("initial_lr", group["lr"]) * scale

    def _rollback(self, error: Diverged) -> bool:
        """With train.on_nan=rollback, restore the last checkpoint and halve every learning rate (at most
        MAX_ROLLBACKS times); False when the run should stop instead."""
        t = self.cfg.train
        if t.on_nan != "rollback" or self._rollbacks >= MAX_ROLLBACKS or not (self.run / STATE).is_file():
            return False
        self._rollbacks += 1
        failed_at = self.step
        in_use = {name: [g["lr"] for g in opt.param_groups] for name, opt in self.opts.items()}
        self._load_checkpoint()
        for name, opt in self.opts.items():  # half the rates that diverged (the checkpoint may predate a rollback)
            for group, lr in zip(opt.param_groups, in_use[name]):
                group["lr"] = 0.5 * lr
                if "initial_lr" in group:  # a decaying lr halves from where it started
                    group["initial_lr"] = 0.5 * group["initial_lr"]
        rec = {"step": self.step, "rollback_from": failed_at, "lr_scale": 0.5**self._rollbacks}
        if is_main_process():
            append_jsonl(self.run / "metrics.jsonl", rec)
            write_status(self.run, "training", self.step, total=self.total)
        self.log(
            f"{error} -- rolled back to step {self.step} with learning rates x{0.5**self._rollbacks:g} "
            f"({self._rollbacks}/{MAX_ROLLBACKS})"
        )
        return True

    def _status(self, state: str, **extra) -> None:
        if is_main_process():
            write_status(self.run, state, self.step, total=self.total, **extra)


def train(cfg: RunConfigBase, run: str | Path, **kw) -> int:
    """Train a new run (or resume with resume=True); returns the final step."""
    return Trainer(cfg, run, **kw).fit()
