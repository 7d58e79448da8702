import json
import statistics

import optuna
import pytest

from genforge.errors import ConfigError
from genforge.modalities.image.modality import ImageDataConfig
from genforge.tune import load_space, tune

from .conftest import small_space


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path / "cache"))
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def small(tmp_path, **kw):
    args = dict(
        family="vae",
        data_cfg=ImageDataConfig(source="digits"),
        trials=3,
        study_name="s",
        steps_per_trial=20,
        out_root=tmp_path,
        n_eval=150,
        extractor_steps=40,
        confirm_seeds=2,
        sets=("model.width=0.5", "model.hidden=32"),
        space_file=small_space(tmp_path),
        log=lambda s: None,
    )
    return tune(**(args | kw))


@pytest.mark.integration
def test_tune_runs_confirms_exports_and_resumes(tmp_path):
    s = small(tmp_path)
    assert [t["state"] for t in s["trials"]] == ["COMPLETE"] * 3
    c = s["confirmation"]  # the best config trained again with two other seeds: two runs, two figures
    assert len(c["fid"]) == 2 and c["fid"][0] != c["fid"][1] and c["std"] == pytest.approx(statistics.stdev(c["fid"]))
    assert (tmp_path / "s" / "best" / "model.safetensors").exists()
    assert json.loads((tmp_path / "s" / "study.json").read_text())["best"]["value"] == s["best"]["value"]
    assert 1 <= s["trials_to_best"] <= 3 and 0 < s["minutes_to_best"] <= s["minutes"]
    assert all(t["seconds"] > 0 for t in s["trials"])
    s2 = small(tmp_path, trials=5)  # same study name: continues where it stopped
    assert len(s2["trials"]) == 5 and s2["new_trials"] == 2
    from genforge.report import write_report

    page = write_report(tmp_path / "s").read_text()
    for section in ("id='best'", "id='history'", "id='importance'", "id='trials'"):
        assert section in page, section
    assert "5 complete" in page and "data:image/png;base64," in page


@pytest.mark.integration
def test_failing_trial_is_recorded_and_the_study_goes_on(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text(
        "train.lr: {type: float, low: 1.0e-4, high: 1.0e-3}\nmodel.latent_dim: {type: categorical, choices: [0, 4]}\n"
    )  # latent_dim 0 is invalid
    s = small(tmp_path, trials=4, space_file=str(space))
    states = {t["state"] for t in s["trials"]}
    assert "FAIL" in states and "COMPLETE" in states
    failed = [t for t in s["trials"] if t["state"] == "FAIL"]
    assert all("latent_dim" in t["error"] for t in failed)


@pytest.mark.integration
def test_target_stop_with_intermediate_reports(tmp_path):
    s = small(tmp_path, trials=6, eval_every=5, target=1e9)  # any FID meets the target: stops after one trial
    assert len(s["trials"]) == 1 and s["stopped_by"].startswith("target")


def test_bad_space_is_named(tmp_path):
    p = tmp_path / "space.yaml"
    p.write_text("train.lr: {type: float, low: 1.0, high: 0.1}\n")
    with pytest.raises(ConfigError, match="train.lr.*low < high"):
        load_space("vae", p)
    with pytest.raises(ConfigError, match="per trial"):
        tune("vae", ImageDataConfig(), 1, "x", out_root=tmp_path)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_settle_fails_and_requeues_a_trial_whose_worker_died_before_its_first_heartbeat(tmp_path):
    """A worker killed between creating its trial and its first heartbeat leaves a running trial that Optuna
    never fails by itself; waiting for the study to settle must not wait for it for ever."""
    from genforge.tune.workers import StudySpec, open_study, settle

    url = f"sqlite:///{tmp_path / 'study.db'}"
    spec = StudySpec(
        family="vae", data_cfg=ImageDataConfig(source="digits"), trials=2, study_name="s", storage=url,
        budget={"steps": 1}, space_file=None, out_root=str(tmp_path), n_eval=10, eval_every=None, target=None,
        plateau=None, max_minutes=0.0, sets=(), extractor_steps=None, seed=0, objective="fid", heartbeat=1,
    )  # fmt: skip
    study = open_study(spec, 0)
    orphan = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})  # RUNNING, no heartbeat: its worker died
    settle(study, spec, log=lambda s: None, t0=0.0)  # max_minutes 0: the retry is left queued, not run
    states = {t.number: t.state.name for t in study.trials}
    assert states == {orphan.number: "FAIL", orphan.number + 1: "WAITING"}
    assert study.trials[-1].params == orphan.params  # queued again with the parameters it had
