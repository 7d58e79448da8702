import re

import numpy as np
import pytest
import torch

import genforge
from genforge.errors import ConfigError, RunError
from genforge.io import STATUS, read_json, read_metrics
from genforge.run import WEIGHTS
from genforge.train import Interrupted, Trainer

from .conftest import tiny_config


def quiet(**kw):
    return dict(progress=False, log=lambda s: None, **kw)


def nn_distance(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Mean distance from each fake image to its nearest real image (pixel space)."""
    return torch.cdist(fake.flatten(1), real.flatten(1).float()).min(1).values.mean().item()


def vae_test_loss_before_after(tr: Trainer) -> tuple[float, float]:
    """The VAE's negative ELBO on the test split (nats per image, same noise) before and after tr.fit()."""
    x = tr.data.tensor("test").float() / 127.5 - 1
    losses = []
    for train in (False, True):
        if train:
            tr.fit()
        torch.manual_seed(0)
        losses.append(tr.model.losses(x)[0].item())
    return losses[0], losses[1]


def test_vae_loss_falls_on_digits(tmp_path, digits):
    tr = Trainer(tiny_config("vae", "train.steps=150"), tmp_path, data=digits, **quiet())
    before, after = vae_test_loss_before_after(tr)
    assert after < 0.7 * before, (before, after)


def test_gan_samples_move_towards_the_data(tmp_path, digits):
    tr = Trainer(tiny_config("dcgan", "train.steps=300"), tmp_path, data=digits, **quiet())
    real = tr.data.tensor("test").float() / 127.5 - 1
    before = nn_distance(tr.model.sample(128, seed=1), real)
    tr.fit()
    after = nn_distance(tr.model.sample(128, seed=1), real)
    assert after < 0.75 * before, (before, after)
    losses = [line for line in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"copy_share"' not in line]
    assert len(losses) == 30 and '"loss_d"' in losses[-1]  # a line per 10 steps, beside the watch's checks


def test_ctrl_c_writes_a_checkpoint_that_resumes(tmp_path, digits):
    tr = Trainer(tiny_config("dcgan", "train.steps=20"), tmp_path, data=digits, **quiet())
    step_fn = tr.model.train_step

    def interrupt_at_7(*a):
        if tr.step == 7:
            raise KeyboardInterrupt
        return step_fn(*a)

    tr.model.train_step = interrupt_at_7
    with pytest.raises(Interrupted, match="--resume"):
        tr.fit()
    assert (tmp_path / WEIGHTS).exists()
    assert torch.load(tmp_path / "train_state.pt", weights_only=True)["step"] == 7
    assert Trainer(tiny_config("dcgan", "train.steps=20"), tmp_path, data=digits, resume=True, **quiet()).fit() == 20


def test_existing_run_is_not_overwritten(tmp_path, digits):
    Trainer(tiny_config("vae", "train.steps=2"), tmp_path, data=digits, **quiet()).fit()
    weights = (tmp_path / WEIGHTS).read_bytes()
    with pytest.raises(RunError, match="--resume"):
        Trainer(tiny_config("vae", "train.steps=2"), tmp_path, data=digits, **quiet())
    assert (tmp_path / WEIGHTS).read_bytes() == weights


def test_save_load_gives_identical_samples(tmp_path, digits):
    tr = Trainer(tiny_config("dcgan", "train.steps=3"), tmp_path, data=digits, **quiet())
    tr.fit()
    tr.model.eval()
    loaded = genforge.load(tmp_path)
    assert torch.equal(tr.model.sample(16, seed=3), loaded.sample(16, seed=3))
    assert not torch.equal(loaded.sample(16, seed=3), loaded.sample(16, seed=4))


def test_corrupt_weights_are_named(tmp_path, digits):
    Trainer(tiny_config("vae", "train.steps=2"), tmp_path, data=digits, **quiet()).fit()
    (tmp_path / WEIGHTS).write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken")
    with pytest.raises(RunError, match=f"{tmp_path / WEIGHTS}.*corrupt"):
        genforge.load(tmp_path)
    with pytest.raises(RunError, match="config.json is missing"):
        genforge.load(tmp_path / "nope")


def test_minutes_budget_stops(tmp_path, digits):
    cfg = tiny_config("vae", "train.minutes=0.005")
    cfg.train.steps = None
    step = Trainer(cfg, tmp_path, data=digits, **quiet()).fit()
    assert 0 < step < 100_000


def test_bf16_trains(tmp_path, digits):
    step = Trainer(
        tiny_config("dcgan", "train.steps=3", "train.precision=bf16"), tmp_path, data=digits, **quiet()
    ).fit()
    assert step == 3 and np.isfinite(genforge.load(tmp_path).sample(4).numpy()).all()


def test_run_files_have_the_usual_permissions(tmp_path, digits):
    import os
    import stat

    Trainer(tiny_config("vae", "train.steps=2"), tmp_path, data=digits, **quiet()).fit()
    umask = os.umask(0)
    os.umask(umask)
    for name in ("model.safetensors", "train_state.pt", "config.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name


@pytest.mark.integration
def test_log_file_gets_one_plain_line_per_interval(tmp_path):
    import subprocess
    import sys

    log = tmp_path / "train.log"
    with open(log, "w") as f:  # stdout and stderr are a file, not a terminal
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "genforge",
                "train",
                "--model",
                "vae",
                "--data",
                "digits",
                "--steps",
                "40",
                "--set",
                "train.log_every=10",
                "--set",
                "model.width=0.5",
                "--out",
                str(tmp_path / "run"),
            ],
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    text = log.read_text()
    assert r.returncode == 0 and "\r" not in text  # no progress-bar frames
    lines = [x for x in text.splitlines() if re.match(r"step \d+/", x)]  # not the watch's "step 20: val_loss"
    assert [x.split()[1] for x in lines] == ["10/40", "20/40", "30/40", "40/40"] and "image/s" in lines[0]
    assert "left" in lines[0]


def test_linear_lr_decay_holds_the_first_half_then_falls_to_zero_and_resumes_with_it(tmp_path, digits):
    cfg = tiny_config("dcgan", "train.steps=20", "train.lr_decay=linear", "train.lr=1e-3")
    seen = []  # the lr of each step, as train_step finds it

    def recording(tr, stop_at=None):
        step_fn = tr.model.train_step

        def step(x, y, opts):
            seen.append(opts["g"].param_groups[0]["lr"])
            if tr.step == stop_at:
                raise KeyboardInterrupt
            return step_fn(x, y, opts)

        tr.model.train_step = step
        return tr

    with pytest.raises(Interrupted):
        recording(Trainer(cfg, tmp_path, data=digits, **quiet()), stop_at=12).fit()
    recording(Trainer(cfg, tmp_path, data=digits, resume=True, **quiet())).fit()
    want = [1e-3 * min(1.0, 2 * (1 - s / 20)) for s in range(20)]
    assert seen[:12] + seen[13:] == pytest.approx(want), seen  # (step 12 was interrupted before it ran)


def test_balanced_batches_hold_each_class_equally_and_split_among_processes():
    from genforge.train.batches import Balanced

    labels = torch.tensor([0] * 3 + [1] * 20)  # a small class and a large one
    one = Balanced(labels, 2, batch=4, local_batch=4, rank=0, seed=0)
    steps = [one(s) for s in range(30)]
    assert all(torch.bincount(labels[b], minlength=2).tolist() == [2, 2] for b in steps)
    small = torch.cat([b[labels[b] == 0] for b in steps])
    assert torch.bincount(small, minlength=3).tolist() == [20, 20, 20]  # the small class cycled through evenly
    assert torch.equal(one(7), Balanced(labels, 2, 4, 4, 0, 0)(7))  # a function of the step: resumes exactly
    ranks = [Balanced(labels, 2, batch=4, local_batch=2, rank=r, seed=0)(7) for r in (0, 1)]
    assert sorted(torch.cat(ranks).tolist()) == sorted(one(7).tolist())  # two processes take the global batch
    with pytest.raises(ConfigError, match="multiple of 2"):
        Balanced(labels, 2, batch=3, local_batch=3, rank=0, seed=0)


def test_balance_needs_labelled_data(tmp_path, digits):
    cfg = tiny_config("dcgan", "train.balance=true", "train.steps=1")
    digits_unlabelled = type(digits)(**{**digits.__dict__, "train_labels": None, "test_labels": None})
    with pytest.raises(ConfigError, match="train.balance needs labelled data"):
        Trainer(cfg, tmp_path, data=digits_unlabelled, **quiet())


def test_a_language_model_on_a_few_hundred_lines_stops_before_it_memorises_and_keeps_its_best_weights(
    tmp_path, text_data, text_folder
):
    """The overfitting watch: the held-out loss of a validation slice rises once the model learns the lines by
    heart; training stops there, says so, and keeps the weights of the best check."""
    from genforge.train.watch import validation_split

    sets = ["model.hidden=128", "model.dropout=0", "train.lr=3e-3", "train.steps=3000", "train.watch_every=40"]
    cfg = tiny_config("text-lm", *sets, "train.watch_patience=2", source=str(text_folder))
    tr = Trainer(cfg, tmp_path, data=text_data, progress=False, log=lambda s: None)
    n_train = len(text_data.tensor("train"))
    assert len(tr.x) == len(validation_split(n_train, 0.05, 0)[0]) < n_train  # the slice is not trained on
    step = tr.fit()
    assert step < 3000  # stopped by the watch, not by the budget
    status = read_json(tmp_path / STATUS)
    assert "the weights of step" in status["stopped_early"]
    checks = [r for r in read_metrics(tmp_path / "metrics.jsonl") if "val_loss" in r]
    best = min(checks, key=lambda r: r["val_loss"])
    assert checks[-1]["val_loss"] > best["val_loss"] and checks[-1]["step"] == step
    assert tr.watch.loss(genforge.load(tmp_path)) == pytest.approx(best["val_loss"], abs=1e-3)


def test_a_gan_that_copies_its_training_items_is_stopped_and_its_last_good_weights_come_back(tmp_path, digits):
    """The near-copy watch of the sampling families: a check whose samples are training items is bad; after
    `patience` bad checks training stops and the weights of the last good check are put back."""
    from genforge.modalities import MODALITIES
    from genforge.train.watch import CopyWatch, watch_for

    cfg = tiny_config("dcgan", "train.steps=60", "train.watch_every=20")
    tr = Trainer(cfg, tmp_path, data=digits, **quiet())
    assert isinstance(tr.watch, CopyWatch) and len(tr.x) < len(digits.tensor("train"))  # a slice held aside
    tr.fit()
    shares = [r["copy_share"] for r in read_metrics(tmp_path / "metrics.jsonl") if "copy_share" in r]
    assert len(shares) == 3 and max(shares) <= 0.05  # a young GAN's samples are no copies

    images = MODALITIES.get("image")
    x = digits.tensor("train")
    watch, x_kept, _ = watch_for(tr.model, x, None, cfg.train, images, digits.codec)
    assert watch.check(tr.model, 10) == {"copy_share": 0.0} and not watch.stopped
    good = {k: v.clone() for k, v in tr.model.state_dict().items()}
    with torch.no_grad():
        for p in tr.model.parameters():
            p.add_(1.0)  # later weights ...
    tr.model.sample = lambda n, seed=0: images.to_model(x_kept[:n])  # ... whose samples are training items
    for step in (20, 30, 40):
        assert watch.check(tr.model, step) == {"copy_share": 1.0}
    assert watch.stopped
    said = watch.restore(tr.model, 40)
    assert (
        f"more than {watch.limit:.0%} of 128 samples were near copies" in said and "weights of step 10 are kept" in said
    )
    assert watch.limit == max(0.05, 5 / (len(x) - len(x_kept)))  # 5x what the slice can resolve
    assert all(torch.equal(v, good[k]) for k, v in tr.model.state_dict().items())
    held_out = images.to_model(digits.tensor("test")[:128])
    tr.model.sample = lambda n, seed=0: held_out[:n]  # real items the model never saw are not copies
    assert watch.check(tr.model, 50)["copy_share"] <= 0.05
