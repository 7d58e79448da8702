"""Everyday use: run status, `genforge runs`, `genforge compare`, experiment trackers, the live page."""

import json
import os
import re
import threading
import time

import pytest

import genforge
from genforge.errors import RunError
from genforge.evaluate import evaluate_run
from genforge.report.compare import compare, config_diff
from genforge.report.runs import find_runs, runs_table
from genforge.run import WEIGHTS, read_status, write_status
from genforge.train import Diverged, Hook, Interrupted, Trainer

from .conftest import tiny_config
from .test_serve import CHROMIUM, browser_on


def quiet():
    return {"progress": False, "log": lambda s: None}


@pytest.fixture(scope="module")
def runs4(tmp_path_factory, digits):
    root = tmp_path_factory.mktemp("many")
    for name, lr in (("a", 1e-3), ("b", 3e-3), ("c", 1e-3), ("d", 5e-4)):
        Trainer(tiny_config("vae", "train.steps=60", f"train.lr={lr}"), root / name, data=digits, **quiet()).fit()
    os.environ["GENFORGE_CACHE"] = str(root / "cache")
    for name, steps in (("a", 40), ("b", 40), ("c", 41), ("d", 40)):  # c: another extractor, another fingerprint
        evaluate_run(
            root / name, n_samples=100, iwae_k=2, extractor_steps=steps, metrics="fid,prdc,nll_iw", log=lambda s: None
        )
    return root


def test_status_of_finished_interrupted_and_dead_runs(runs4, tmp_path):
    assert read_status(runs4 / "a")["state"] == "finished" and read_status(runs4 / "a")["step"] == 60
    write_status(tmp_path, "training", 5)
    st = json.loads((tmp_path / "status.json").read_text())
    assert read_status(tmp_path)["state"] == "training"
    (tmp_path / "status.json").write_text(json.dumps(st | {"updated": st["updated"] - 3600}))
    assert read_status(tmp_path)["state"] == "stopped"  # no heartbeat for an hour: the process died


def test_diverged_run_stops_and_keeps_its_last_good_checkpoint(tmp_path, digits):
    sets = ["train.steps=20", "train.checkpoint_every=10", "train.log_every=10"]
    tr = Trainer(tiny_config("vae", *sets), tmp_path, data=digits, **quiet())
    good = {}

    def poison(trainer):  # after the step-10 checkpoint, make every parameter NaN
        good.update({k: v.clone() for k, v in genforge.load(tmp_path).state_dict().items()})
        for p in trainer.model.parameters():
            p.data.fill_(float("nan"))

    tr.hooks = (Hook(10, poison),)
    with pytest.raises(Diverged, match="diverged at step 20: loss.* not finite"):
        tr.fit()
    assert read_status(tmp_path)["state"] == "diverged"
    kept = genforge.load(tmp_path).state_dict()
    assert all((kept[k] == good[k]).all() for k in good)  # no NaN written over the good weights


def test_runs_table_lists_every_run(runs4):
    assert [p.name for p in find_runs(runs4)] == ["a", "b", "c", "d"]
    table = runs_table(runs4)
    assert table.splitlines()[0].split()[:6] == ["run", "family", "preset", "data", "steps", "status"]
    row = next(x for x in table.splitlines() if x.startswith("a "))
    assert "vae" in row and "60/60" in row and "finished" in row and "fid" in row and "floor" in row
    with pytest.raises(RunError, match="no such folder"):
        runs_table(runs4 / "nope")


def test_compare_shows_differences_and_marks_the_best(runs4, tmp_path):
    path, text = compare([runs4 / "a", runs4 / "b", runs4 / "d"], tmp_path / "cmp.html")
    page = path.read_text()
    assert "train.lr" in text and "fid" in text and "*" in text
    assert "Config differences" in page and "train.lr" in page and "real-data floor" in page
    assert page.count("<figure>") == 3 and not re.search(r"""(src|href)=["']https?:""", page)  # self-contained
    diff = config_diff([json.loads((runs4 / n / "config.json").read_text()) for n in ("a", "b", "d")])
    assert list(diff) == ["train.lr"]
    with pytest.raises(RunError, match="not comparable.*feature extractor"):
        compare([runs4 / "a", runs4 / "c"], tmp_path / "x.html")


def test_trackers_receive_scalars_and_previews(tmp_path, digits, text_data, text_folder):
    pytest.importorskip("tensorboard")
    mlflow = pytest.importorskip("mlflow")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sets = ["train.steps=20", "train.log_every=10", "train.sample_every=10", "train.log_to=[tensorboard,mlflow]"]
    for run, cfg, data in (
        (tmp_path / "img", tiny_config("vae", *sets), digits),
        (tmp_path / "txt", tiny_config("text-lm", *sets, source=str(text_folder)), text_data),
    ):
        Trainer(cfg, run, data=data, **quiet()).fit()
        acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "tensors": 0}).Reload()
        assert [e.step for e in acc.Scalars("loss")] == [10, 20]
        client = mlflow.MlflowClient(tracking_uri=(run / "mlruns").resolve().as_uri())
        (found,) = client.search_runs([client.get_experiment_by_name("genforge").experiment_id])
        assert [m.step for m in client.get_metric_history(found.info.run_id, "loss")] == [10, 20]
        arts = [a.path for a in client.list_artifacts(found.info.run_id, "samples")]
        if run.name == "img":
            assert [e.step for e in acc.Images("samples")] == [0, 10, 20] and "samples/step_0000020.png" in arts
        else:
            assert [e.step for e in acc.Tensors("samples/text_summary")] == [0, 10, 20]
            assert "samples/step_0000020.txt" in arts


@pytest.mark.integration
@pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"
)
def test_live_page_shows_a_training_run_grow(tmp_path, digits):
    from genforge.serve import create_app

    run, stop = tmp_path / "runs" / "live", threading.Event()

    def slow(trainer):  # a run that lasts until the test has seen it grow
        time.sleep(0.05)
        if stop.is_set():
            raise KeyboardInterrupt

    cfg = tiny_config(
        "vae", "train.steps=100000", "train.log_every=5", "train.checkpoint_every=20", "train.sample_every=20"
    )
    tr = Trainer(cfg, run, data=digits, hooks=(Hook(1, slow),), **quiet())
    worker = threading.Thread(target=lambda: pytest.raises(Interrupted, tr.fit), daemon=True)
    worker.start()
    while not (run / WEIGHTS).is_file():
        time.sleep(0.1)
    try:
        with browser_on(create_app([tmp_path / "runs"])) as (page, url):
            page.goto(url)
            page.wait_for_function("Number(document.getElementById('curve').dataset.points) > 0")
            first = int(page.get_attribute("#curve", "data-points"))
            page.wait_for_function(f"Number(document.getElementById('curve').dataset.points) > {first}", timeout=20000)
            assert "training" in page.inner_text("#runs") and page.is_visible("#live_img")
            stop.set()
            worker.join(timeout=30)
            page.wait_for_function("document.getElementById('runs').innerText.includes('interrupted')", timeout=15000)
    finally:
        stop.set()


@pytest.mark.integration
def test_demo_keeps_its_budget_and_says_what_to_open(tmp_path):
    from genforge.demo import demo, plan

    lines = []
    res = demo("digits", minutes=0.4, out=tmp_path, log=lines.append)
    assert lines[0].startswith("demo plan (0.4 min on digits): vae-default 0.2 min")
    runs = plan("digits", 0.4)  # the measured best for images at this budget first, then the article's models
    assert [n for n, *_ in runs] == ["vae-default", "dcgan-article", "vae-article"]
    trained = sum(res["parts"][n][0] for n, *_ in runs) / 60
    assert trained < 0.4 * 0.85 + 0.1  # each run stops at its share (plus one step and its checkpoint)
    assert all(os.path.isfile(f) for f in res["files"]) and any(f.endswith("compare.html") for f in res["files"])
    assert "planned 0.4 min, took" in "\n".join(lines) and "open:" in "\n".join(lines)


def test_a_second_process_on_the_same_run_is_refused(tmp_path, digits):
    from genforge.run import lock_run

    run = tmp_path / "r"
    held = lock_run(run)  # as another process training into the same --out holds it
    write_status(run, "training", 7)
    with pytest.raises(RunError, match=r"in use by another process \(pid \d+ on .*: training at step 7\)"):
        Trainer(tiny_config("vae", "train.steps=2"), run, data=digits, **quiet()).fit()
    assert not (run / WEIGHTS).exists()  # nothing written beside the other process
    held.close()
    assert Trainer(tiny_config("vae", "train.steps=2"), run, data=digits, **quiet()).fit() == 2


def test_a_run_from_before_modalities_and_status_files_still_works(tmp_path, digits):
    from fastapi.testclient import TestClient

    from genforge.report import write_report
    from genforge.serve import create_app

    run = tmp_path / "old"
    Trainer(tiny_config("vae", "train.steps=5"), run, data=digits, **quiet()).fit()
    raw = json.loads((run / "config.json").read_text())
    del raw["dataset"]["modality"]  # what a run written by an earlier genforge holds
    (run / "config.json").write_text(json.dumps(raw))
    (run / "status.json").unlink()
    assert genforge.load(run).sample(2).shape == (2, 1, 8, 8)
    assert read_status(run)["state"] == "finished" and "finished" in runs_table(tmp_path)
    assert "id='samples'" in write_report(run).read_text()
    assert TestClient(create_app([run])).get("/api/old/generate", params={"n": 2}).status_code == 200


def test_on_nan_rollback_restores_the_checkpoint_at_half_the_learning_rate(tmp_path, digits):
    sets = ["train.steps=40", "train.checkpoint_every=10", "train.log_every=10", "train.on_nan=rollback"]
    tr = Trainer(tiny_config("vae", *sets), tmp_path, data=digits, **quiet())
    poisoned = []

    def poison_once(trainer):
        if trainer.step == 20 and not poisoned:
            poisoned.append(trainer.step)
            for p in trainer.model.parameters():
                p.data.fill_(float("nan"))

    tr.hooks = (Hook(10, poison_once),)
    assert tr.fit() == 40 and read_status(tmp_path)["state"] == "finished"
    recs = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert {"step": 20, "rollback_from": 30, "lr_scale": 0.5} in recs
    assert tr.opts["vae"].param_groups[0]["lr"] == pytest.approx(0.5 * tr.cfg.train.lr)
    assert all(v.isfinite().all() for v in genforge.load(tmp_path).state_dict().values())
