import json

import numpy as np
import pytest
import torch

from genforge.errors import ConfigError, RunError
from genforge.evaluate import evaluate_files, evaluate_run, evaluate_samples, get_extractor, parse_metrics
from genforge.evaluate import metrics as M
from genforge.evaluate.evaluate import reconstruction_accuracy
from genforge.evaluate.sanity import sanity_table
from genforge.run import build_model
from genforge.train import Trainer

from .conftest import tiny_config

STEPS = 300  # a quick extractor: ~97% test accuracy on digits


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("GENFORGE_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def extractor(cache, digits):
    return get_extractor(digits, steps=STEPS, log=None)


@pytest.fixture(scope="module")
def table(extractor, digits):
    return sanity_table(digits, n=500, extractor_steps=STEPS, log=None)


@pytest.mark.integration
def test_classifier_extractor_is_accurate_and_cached(extractor, digits):
    assert extractor.kind == "classifier" and extractor.info["test_accuracy"] > 0.9
    again = get_extractor(digits, steps=STEPS, log=None)
    assert again.fingerprint == extractor.fingerprint
    x = digits.tensor("test")[:50]
    assert torch.equal(again.features(x), extractor.features(x))


@pytest.mark.integration
def test_damaged_cache_is_rebuilt(extractor, digits):
    from pathlib import Path

    Path(extractor.info["cache"]).write_bytes(b"garbage")
    msgs = []
    again = get_extractor(digits, steps=STEPS, log=msgs.append)
    assert any("unreadable" in m for m in msgs) and again.info["test_accuracy"] > 0.9


def test_blur_and_noise_are_monotone(table):
    for kind in ("blur", "noise"):
        rows = [r for name, r in table.items() if name.startswith(kind)]
        # Strengths are ordered; the weakest level may sit within the real floor's
        # noise at this tiny scale (180 test images), the next ones may not.
        for metric in ("fid", "kid"):
            vals = [r[metric] for r in rows]
            assert vals == sorted(vals) and table["real (floor)"][metric] < vals[1], (kind, metric, vals)
        prec = [r["precision"] for r in rows]
        assert prec == sorted(prec, reverse=True) and table["real (floor)"]["precision"] > prec[1], (kind, prec)


def test_dropped_classes_lower_recall_and_coverage_not_precision(table):
    real, half, one = table["real (floor)"], table["classes 0..4 only"], table["one class (0)"]
    for metric in ("recall", "coverage"):
        assert one[metric] < half[metric] < real[metric], metric
    assert half["precision"] >= 0.85 * real["precision"] and one["precision"] >= 0.85 * real["precision"]
    assert one["class_histogram"] == 0 and real["class_histogram"] > 0.5
    assert one["classifier_score"] < half["classifier_score"] < real["classifier_score"]


def test_memorization_flags_training_images(table):
    assert table["training images"]["near_copy_share"] > 0.95
    assert table["real (floor)"]["near_copy_share"] < 0.1


@pytest.mark.integration
def test_eval_json_shape_with_floors_and_intervals(tmp_path, cache, digits, extractor):
    tr = Trainer(tiny_config("vae", "train.steps=30"), tmp_path, data=digits, progress=False, log=lambda s: None)
    tr.fit()
    said = []
    res = evaluate_run(tmp_path, n_samples=200, iwae_k=4, log=said.append)
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert not any("still training" in s for s in said)
    assert saved["n_fake"] == 200 and saved["data"]["fingerprint"] == digits.fingerprint
    assert saved["extractor"]["kind"] == "classifier" and saved["extractor"]["fingerprint"]
    for name in ("fid", "kid", "precision", "recall", "density", "coverage", "classifier_score", "near_copy_share"):
        m = saved["metrics"][name]
        assert m["interval"][0] <= m["interval"][1] and "floor" in m, name
    assert saved["metrics"]["fid"]["floor"] < saved["metrics"]["fid"]["value"]
    # eval_samples redraws exactly the evaluated samples (the report's memorization pairs rely on it)
    import genforge
    from genforge.evaluate import eval_samples
    from genforge.modalities.image.dataset import to_float

    pair = saved["metrics"]["near_copy_share"]["closest"][0]
    fake = eval_samples(genforge.load(tmp_path), 200, saved["seed"])[0][pair["sample"]]
    dist = (to_float(fake) - to_float(digits.tensor("train")[pair["train"]])).norm().item()
    assert abs(dist - pair["distance"]) < 1e-3
    # VAE figures: the IWAE bound is at least as tight as the ELBO (NLL <= -ELBO, up to noise)
    m = res["metrics"]
    assert m["nll_iw"]["value"] <= -m["elbo"]["value"] + 1.0
    assert 0 <= m["active_units"]["value"] <= m["active_units"]["of"]
    # a run that is still training is scored with a warning that it is a checkpoint
    from genforge.run import write_status

    write_status(tmp_path, "training", 12)
    evaluate_run(tmp_path, n_samples=200, iwae_k=2, log=said.append, write=False)
    assert any("still training (step 12)" in s for s in said)


@pytest.mark.integration  # trains the digits extractor with its default steps
def test_evaluate_any_samples_file(tmp_path, cache, digits, extractor):
    imgs = digits.test[:100]  # real held-out images as "samples"
    np.savez(tmp_path / "s.npz", images=imgs)
    res = evaluate_files("digits", tmp_path / "s.npz", metrics="fid,prdc", out=tmp_path / "e.json", log=None)
    assert set(res["metrics"]) == {"fid", "precision", "recall", "density", "coverage"}
    assert json.loads((tmp_path / "e.json").read_text())["n_fake"] == 100
    with pytest.raises(RunError, match="no such file"):
        evaluate_files("digits", tmp_path / "nope.npz", log=None)


def test_bad_inputs_are_named(extractor, digits):
    with pytest.raises(ConfigError, match="unknown metric.*fdi"):
        parse_metrics("fid,fdi", "image")
    wrong = torch.zeros(20, 3, 8, 8, dtype=torch.uint8)
    with pytest.raises(ConfigError, match=r"\(3, 8, 8\).*\(1, 8, 8\)"):
        evaluate_samples(wrong, digits, extractor)


def test_prdc_and_fid_on_known_gaussians():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(1000, 8, generator=g)
    same = torch.randn(1000, 8, generator=g)
    shifted = same + 3.0
    assert M.fid(real, same)["value"] < 0.2 < M.fid(real, shifted)["value"]
    near = M.prdc(real, same)
    far = M.prdc(real, shifted)
    assert near["precision"]["value"] > 0.6 and far["precision"]["value"] < 0.05
    assert near["coverage"]["value"] > 0.6 and far["coverage"]["value"] < 0.05
    # a small data set's floor: 4 held-out items; the balls shrink to k = 3 rather than fail
    few = M.prdc(real, same[:4])
    assert few["recall"]["k"] == 3 and few["precision"]["value"] == 1.0
    assert np.isnan(M.prdc(real, same[:1])["precision"]["value"])


@pytest.mark.integration
def test_cli_evaluate_prints_table_and_writes_eval_json(tmp_path, cache, extractor):
    import subprocess
    import sys

    run = tmp_path / "run"
    base = [sys.executable, "-m", "genforge"]
    r = subprocess.run(
        base
        + [
            "train",
            "--data",
            "digits",
            "--steps",
            "5",
            "--out",
            str(run),
            "--no-progress",
            "--set",
            "model.width=0.25",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        base
        + ["evaluate", str(run), "--samples", "100", "--metrics", "fid,memorization", "--extractor-steps", str(STEPS)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "fid" in r.stdout and "near_copy_share" in r.stdout and "floor" in r.stdout
    assert json.loads((run / "eval.json").read_text())["metrics"]["fid"]["value"] > 0
    r = subprocess.run(base + ["evaluate", "--fake", str(tmp_path / "x.npz")], capture_output=True, text=True)
    assert r.returncode == 2 and "--real" in r.stderr


def test_unlabelled_data_gets_a_contrastive_extractor(tmp_path, cache, digits):
    from genforge.modalities.image.dataset import load_data
    from genforge.modalities.image.modality import ImageDataConfig

    np.save(tmp_path / "u.npy", digits.train[:400])  # no labels
    data = load_data(ImageDataConfig(source=str(tmp_path / "u.npy")))
    ext = get_extractor(data, steps=20, log=None)
    assert ext.kind == "contrastive" and ext.embed(data.tensor("test"))[1] is None
    res = evaluate_samples(data.tensor("test"), data, ext, n_real=300)
    assert "fid" in res["metrics"] and "classifier_score" not in res["metrics"]
    assert res["metrics"]["fid"]["n"] == len(data.test)


def test_torchscript_extractor_by_path(tmp_path, digits):
    net = torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16)))
    net.save(str(tmp_path / "f.pt"))
    ext = get_extractor(digits, path=tmp_path / "f.pt")
    assert ext.kind == "torchscript" and ext.features(digits.tensor("test")[:5]).shape == (5, 16)
    res = evaluate_samples(digits.tensor("test"), digits, ext, metrics="fid,kid", n_real=500)
    assert res["extractor"]["fingerprint"] == ext.fingerprint
    with pytest.raises(RunError, match="not a loadable TorchScript"):
        (tmp_path / "bad.pt").write_bytes(b"nope")
        get_extractor(digits, path=tmp_path / "bad.pt")


def test_eval_every_writes_figures_to_metrics_jsonl(tmp_path, digits, extractor):
    from genforge.evaluate import training_hook
    from genforge.train import Hook

    hook = Hook(10, training_hook(digits, n_samples=100, log=None))
    Trainer(
        tiny_config("dcgan", "train.steps=25"), tmp_path, data=digits, progress=False, log=lambda s: None, hooks=(hook,)
    ).fit()
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    evals = [x for x in lines if "eval/fid" in x]
    assert [x["step"] for x in evals] == [10, 20, 25] and all(x["eval/fid"] > 0 for x in evals)


@pytest.mark.integration
def test_usefulness_separates_right_from_shuffled_labels(digits):
    from genforge.evaluate.usefulness import usefulness

    x, y = digits.tensor("train")[:600], digits.labels("train")[:600]
    right = usefulness(x, y, digits, steps=150)
    shuffled = usefulness(x, y[torch.randperm(600, generator=torch.Generator().manual_seed(0))], digits, steps=150)
    assert right["value"] > 0.8 and shuffled["value"] < 0.35
    assert right["floor"] > 0.8 and right["interval"][0] <= right["value"] <= right["interval"][1]
    with pytest.raises(ConfigError, match="integers in 0..9"):
        usefulness(x, y + 10, digits, steps=1)


@pytest.mark.integration
def test_labelled_samples_file_gets_usefulness(tmp_path, cache, digits, extractor):
    np.savez(tmp_path / "s.npz", images=digits.train[:200], labels=digits.train_labels[:200])
    res = evaluate_files("digits", tmp_path / "s.npz", metrics="usefulness", log=None)
    assert res["metrics"]["usefulness"]["value"] > 0.7 and "floor" in res["metrics"]["usefulness"]


@pytest.mark.integration
def test_conditional_run_gets_class_agreement_and_usefulness(tmp_path, cache, digits, extractor):
    cfg = tiny_config("vae", "model.conditional=true", "train.steps=400")
    Trainer(cfg, tmp_path, data=digits, progress=False, log=lambda s: None).fit()
    res = evaluate_run(
        tmp_path,
        n_samples=300,
        iwae_k=2,
        metrics="fid,class_agreement,usefulness,nll_iw,reconstruction_accuracy",
        log=lambda s: None,
    )
    m = res["metrics"]
    # the data's classifier puts most samples in the class they were drawn for; its floor is its accuracy
    assert m["class_agreement"]["value"] > 0.6 and m["class_agreement"]["floor"] > 0.9
    # and labels most reconstructions as their originals, which an untrained model's it does not
    rec = m["reconstruction_accuracy"]
    assert rec["value"] > 0.7 and rec["floor"] > 0.9 and rec["n"] == len(digits.test)
    untrained = build_model(cfg, digits.shape, digits.n_classes)
    assert reconstruction_accuracy(untrained, digits, extractor, 400, 0)["reconstruction_accuracy"]["value"] < 0.4
    assert m["usefulness"]["value"] > 0.5 and np.isfinite(m["nll_iw"]["value"])
    # labels that do not fit the data are named
    with pytest.raises(ConfigError, match="one label per sample"):
        evaluate_samples(digits.tensor("test")[:20], digits, extractor, ("fid",), fake_labels=torch.zeros(3))


def test_vae_prior_table_shows_what_the_prior_costs(tmp_path, cache, digits):
    """A sharp VAE's N(0, I) samples fall in the holes between its codes; a mixture fitted to them does not."""
    from genforge.bench.vae_prior import prior_table

    Trainer(tiny_config("vae", "train.steps=300"), tmp_path, data=digits, progress=False, log=lambda s: None).fit()
    rows = dict(prior_table(str(tmp_path), 300, [5]))
    assert list(rows) == [
        "N(0, I) samples",
        "reconstructions of held-out images",
        "mixture of 5 fitted to the training codes",
    ]
    assert rows["mixture of 5 fitted to the training codes"]["fid"] < 0.8 * rows["N(0, I) samples"]["fid"], rows


def test_kid_says_nothing_to_the_user_beside_its_figure():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torchmetrics' note on its feature buffer would be an error here
        res = M.kid(torch.randn(200, 8), torch.randn(200, 8) + 1)
    assert res["value"] > 0
