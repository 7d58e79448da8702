import json
import subprocess
import sys

import numpy as np
import pytest

TINY = ["--set", "model.width=0.25", "--set", "train.batch_size=32", "--no-progress"]


def gf(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "genforge", *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.mark.integration
def test_cli_end_to_end_on_digits(tmp_path):
    run = tmp_path / "run"
    r = gf("train", "--model", "dcgan", "--data", "digits", "--steps", "20", "--out", run, *TINY)
    assert r.returncode == 0, r.stderr
    assert {"config.json", "model.safetensors", "train_state.pt", "metrics.jsonl", "data.json"} <= {
        p.name for p in run.iterdir()
    }
    assert list((run / "samples").glob("step_*.png"))
    r = gf("train", "--resume", run, "--steps", "30", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 30
    assert gf("sample", run, "-n", "16", "--out", tmp_path / "g.png").returncode == 0
    assert gf("sample", run, "-n", "40", "--out", tmp_path / "s.npz").returncode == 0
    with np.load(tmp_path / "s.npz") as f:
        assert f["images"].shape == (40, 8, 8, 1)
    r = gf("sample", run, "--mode", "animate", "-n", "3", "--frames", "4", "--out", tmp_path / "walk.mp4")
    assert r.returncode == 0 and "3 looping walk(s) of 17 frames" in r.stdout, r.stderr
    assert (tmp_path / "walk.mp4").read_bytes()[4:8] == b"ftyp"
    r = gf("export", run, "--format", "torchscript")
    assert r.returncode == 0 and (run / "generator.pt").exists(), r.stderr
    r = gf("runs", tmp_path)
    assert r.returncode == 0 and "run " in r.stdout and "dcgan" in r.stdout and "finished" in r.stdout, r.stderr


@pytest.mark.integration
def test_cli_errors_are_one_clear_line(tmp_path):
    r = gf("train", "--set", "train.lrr=1")
    assert r.returncode == 2 and "did you mean 'train.lr'" in r.stderr and "Traceback" not in r.stderr
    r = gf("data", "inspect", tmp_path / "missing")
    assert r.returncode == 1 and "no such file or folder" in r.stderr
    r = gf("sample", tmp_path)
    assert r.returncode == 1 and "config.json is missing" in r.stderr


@pytest.mark.integration
def test_data_inspect_prints_the_report():
    r = gf("data", "inspect", "digits")
    assert r.returncode == 0 and "1617 train / 180 test" in r.stdout and "duplicates" in r.stdout
    r = gf("data", "inspect", "digits", "--json")
    assert json.loads(r.stdout)["n_train"] == 1617


def test_config_reference_in_docs_is_current():
    from pathlib import Path

    from genforge.docs import config_reference

    doc = Path(__file__).parents[1] / "docs" / "config.md"
    assert doc.read_text().strip() == config_reference().strip(), (
        "regenerate: genforge config --reference > docs/config.md"
    )


@pytest.mark.integration
def test_metrics_command_lists_the_registry_by_modality():
    r = gf("metrics")
    rows = {line.split()[0]: line.split()[1] for line in r.stdout.splitlines()}
    assert r.returncode == 0 and rows["fid"] == "image" and rows["fd"] == "audio/dialog/music/shapes/text/video"
    assert rows["kid"] == rows["modified_is"] == "audio/dialog/image/music/shapes/text/video"
    assert rows["self_bleu"] == "dialog/text" and rows["nll_iw"] == "dialog/image/music/shapes/text/video"
    assert rows["motion_gap"] == "video" and rows["mmd_cd"] == "shapes" and rows["relevance"] == "dialog"
    assert rows["music_stats"] == "music" and rows["kl"] == "dialog/music/text"


def exit_status(monkeypatch, capsys, *argv) -> tuple[int, str, str]:
    """(exit status, stderr, stdout) of `genforge ARGV` run in this process through the console entry."""
    from genforge.cli import main

    monkeypatch.setattr(sys, "argv", ["genforge", *map(str, argv)])
    with pytest.raises(SystemExit) as e:
        main()
    out = capsys.readouterr()
    return e.value.code, out.err, out.out


def test_exit_status_says_done_failure_usage_or_stopped(monkeypatch, capsys, tmp_path):
    assert exit_status(monkeypatch, capsys, "--version")[0] == 0
    code, err, _ = exit_status(monkeypatch, capsys, "train", "--set", "train.lrr=1")
    assert code == 2 and "did you mean 'train.lr'" in err  # a bad key: a usage error
    assert exit_status(monkeypatch, capsys, "train", "--no-such-flag")[0] == 2  # click's own usage error
    code, err, _ = exit_status(monkeypatch, capsys, "sample", tmp_path)
    assert code == 1 and "config.json is missing" in err and "Traceback" not in err  # a runtime failure
    code, err, _ = exit_status(
        monkeypatch, capsys, "train", "--model", "dcgan", "--data", "bach-chorales", "--steps", "1"
    )
    assert code == 1 and "bach-chorales' is a music data set" in err and "music-vae" in err

    from genforge.errors import Interrupted

    def stopped(*_, **__):
        raise Interrupted(tmp_path, 7)

    monkeypatch.setattr("genforge.report.write_report", stopped)
    code, err, _ = exit_status(monkeypatch, capsys, "report", tmp_path)
    assert code == 130 and "stopped at step 7" in err and "--resume" in err


def test_version_is_the_package_version(monkeypatch, capsys):
    from genforge import __version__

    code, _, out = exit_status(monkeypatch, capsys, "--version")
    assert code == 0 and out.strip() == f"genforge {__version__}"


@pytest.mark.integration
def test_help_lists_every_registered_name_without_importing_torch():
    code = (
        "import sys; sys.argv = ['genforge', 'train', '--help']\n"
        "from genforge.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "assert 'torch' not in sys.modules, 'help imported torch'\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"COLUMNS": "400"} | dict(__import__("os").environ),
    )
    assert r.returncode == 0, r.stderr
    from genforge.models import FAMILIES

    for name in FAMILIES.names():  # the help's list is the registry's
        assert name in r.stdout, name


def test_model_auto_follows_the_data_and_records_why(monkeypatch, capsys, tmp_path):
    from PIL import Image

    from genforge.modalities import manifests
    from genforge.models import FAMILIES
    from genforge.run import auto_family, read_config

    assert auto_family("bach-chorales", 10)[0] == "music-lm" and auto_family("spoken-digits", 10)[0] == "specgan"
    assert auto_family("instrument-notes", 10)[0] == "ddsp"  # a data set's own pick before its modality's
    (tmp_path / "pics").mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(tmp_path / "pics" / f"{i}.png")
    assert auto_family(None, 5)[0] == auto_family(str(tmp_path / "pics"), 5)[0] == "vae"  # a folder of images
    for m in manifests().values():  # every pick is a family of its own modality
        assert {f for _, f, _ in m.picks + m.data_picks} <= set(m.families) and m.picks[0][0] == 0, m.name
        assert all(FAMILIES.get(f).modality == m.name for _, f, _ in m.picks + m.data_picks)
        assert {d for d, _, _ in m.data_picks} <= set(m.data_sets), m.name
    code, _, out = exit_status(
        monkeypatch, capsys, "train", "--data", "digits", "--steps", "2", "--out", tmp_path / "r"
    )
    assert code == 0 and "--model auto: vae for image data" in out
    cfg, _ = read_config(tmp_path / "r")
    assert cfg.family == "vae" and cfg.preset == "default" and cfg.picked.startswith("vae for image data: at 5")
