"""Voices: speakers read from each layout, a voice VAE that keeps who speaks apart from what is said, the
verifier, and `sample --voice` / `convert` on the CLI."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from genforge.cli import app
from genforge.errors import ConfigError, DataError
from genforge.modalities.audio.dsp import pitch_hz
from genforge.modalities.audio.modality import AudioDataConfig
from genforge.modalities.audio.sources import load_audio
from genforge.modalities.audio.verifier import equal_error_rate, pair_scores, train_verifier
from genforge.sample.voices import convert_file, file_blobs, voice_samples

from .conftest import tiny_config, trained

RATE, SECONDS = 8000, 0.5
SPEAKERS = {"ann": 200.0, "bob": 280.0, "cy": 380.0, "dee": 520.0}  # a planted voice: its fundamental (Hz)
# a planted word: the path of its formant (Hz) over the clip, as speech's formants move
WORDS = {"fall": (2600.0, 1500.0, 500.0), "peak": (500.0, 2600.0, 500.0), "rise": (500.0, 1500.0, 2600.0)}


def planted(f0: float, word: tuple, jitter: float) -> np.ndarray:
    """A harmonic clip at f0 (times 1 + jitter) whose harmonics near the word's moving formant are loud."""
    t = np.arange(int(RATE * SECONDS)) / RATE
    f = f0 * (1 + jitter)
    ks = np.arange(1, int(RATE / 2 / f))
    formant = np.interp(t, [0.0, 0.2, 0.4], word)  # [T]
    amps = np.exp(-(((ks[:, None] * f - formant) / 300.0) ** 2)) + 0.03  # [K, T]
    x = (amps * np.sin(2 * np.pi * ks[:, None] * f * t)).sum(0)
    env = np.clip(np.minimum(t / 0.03, (0.45 - t) / 0.05), 0, 1)
    return (0.5 * x * env / np.abs(x).max()).astype(np.float32)


@pytest.fixture(scope="module")
def voice_folder(tmp_path_factory):
    """<speaker>/<word>/*.wav: four planted voices saying three planted words, four takes each."""
    root = tmp_path_factory.mktemp("voices")
    for s, f0 in SPEAKERS.items():
        for w, path in WORDS.items():
            (root / s / w).mkdir(parents=True)
            for k, jitter in enumerate((-0.02, 0.0, 0.01, 0.03)):
                sf.write(root / s / w / f"{k}.wav", planted(f0, path, jitter), RATE)
    return root


def load(source, **keys):
    return load_audio(AudioDataConfig(source=str(source), sample_rate=RATE, seconds=SECONDS, **keys))


def test_speakers_are_read_from_a_folder_a_table_and_spoken_digits(voice_folder, tmp_path, audio_data):
    data = load(voice_folder, test_fraction=0.25)
    assert data.class_names == sorted(WORDS)
    assert sorted(set(data.train_speakers) | set(data.test_speakers)) == sorted(SPEAKERS)
    assert len(set(data.test_speakers)) == 1 and not set(data.train_speakers) & set(data.test_speakers)
    assert len(data.train_speakers) == len(data.train) and len(data.test_speakers) == len(data.test)
    seen = load(voice_folder, test_fraction=0.25, split_by="utterance")
    assert set(seen.test_speakers) == set(seen.train_speakers) == set(SPEAKERS)
    # a table of file, speaker, text: rows without a speaker and unreadable files are named and skipped
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    rows = [("file", "speaker", "text")]
    rows += [(str(voice_folder / s / w / "0.wav"), s, w) for s in SPEAKERS for w in WORDS]
    rows += [(str(voice_folder / "ann" / "rise" / "1.wav"), "", "rise"), ("broken.wav", "ann", "rise")]
    with open(tmp_path / "voices.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    table = load(tmp_path / "voices.csv", test_fraction=0.25)
    problems = dict(table.problems)
    assert f"{tmp_path / 'voices.csv'}:{len(rows) - 1}" in problems and str(tmp_path / "broken.wav") in problems
    assert len(table.train) + len(table.test) == len(SPEAKERS) * len(WORDS)
    with pytest.raises(DataError, match="voices.csv:"):
        load(tmp_path / "voices.csv", strict=True)
    # spoken-digits: 120 espeak-ng speakers, split by speaker
    assert audio_data.train_speakers[0].startswith("en")
    assert not set(audio_data.train_speakers) & set(audio_data.test_speakers)


def test_the_verifier_tells_planted_voices_apart(voice_folder):
    data = load(voice_folder, test_fraction=0.25, split_by="utterance")
    names = sorted(set(data.train_speakers))
    who = torch.tensor([names.index(s) for s in data.train_speakers])
    net = train_verifier(data.tensor("train").float() / 32768.0, who, RATE, steps=150)
    same, diff = pair_scores(net.embed(data.tensor("test").float() / 32768.0), data.test_speakers)
    assert equal_error_rate(same, diff) < 0.2
    assert equal_error_rate(np.zeros(5), np.ones(5)) == 1.0  # a verifier that scores backwards errs always


@pytest.fixture(scope="module")
def voice_run(voice_folder, tmp_path_factory):
    """A small voice VAE trained on the planted voices (test clips: unseen takes of the same voices)."""
    data = load(voice_folder, test_fraction=0.25, split_by="utterance")
    sets = ("model.channels=48", "model.blocks=2", "train.steps=400", "train.batch_size=16", "train.lr=0.002")
    split = ("data.split_by=utterance", "data.test_fraction=0.25")
    cfg = tiny_config("voice-vae", *sets, *split, source=str(voice_folder))
    return trained(cfg, tmp_path_factory.mktemp("voice-run") / "run", data) + (data,)


def word_of(clips: torch.Tensor) -> list[str]:
    """The planted word of clips [N, 1, T]: how the spectral centroid moves over the first 0.4 s."""
    power = torch.stft(clips[:, 0].float(), 256, 64, window=torch.hann_window(256), return_complex=True).abs() ** 2
    hz = torch.fft.rfftfreq(256, 1 / RATE)
    centroid = (hz[:, None] * power).sum(1) / power.sum(1).clamp_min(1e-9)  # [N, frames]
    thirds = [c.mean(1) for c in centroid[:, : int(0.4 * RATE / 64)].chunk(3, 1)]  # [N] each
    return ["peak" if b > max(a, c) + 200 else "rise" if c > a else "fall" for a, b, c in zip(*thirds)]


def test_a_voice_vae_keeps_who_speaks_apart_from_what_is_said(voice_run):
    run, model, data = voice_run
    assert model.voice_names() == sorted(SPEAKERS)
    words = torch.arange(len(WORDS)).repeat(2)
    # two training voices saying every word: the verifier puts clips of one voice closer than clips of two
    names = sorted(set(data.train_speakers))
    net = train_verifier(data.tensor("train").float() / 32768.0,
                         torch.tensor([names.index(s) for s in data.train_speakers]), RATE, steps=150)  # fmt: skip
    voices = torch.stack([model.named_voice("ann")] * 3 + [model.named_voice("dee")] * 3)
    clips = model.speak(voices, words, torch.Generator().manual_seed(0)).cpu()
    same, diff = pair_scores(net.embed(clips, own_centre=True), ["ann"] * 3 + ["dee"] * 3)
    assert same.min() > diff.max()  # every same-voice pair is more alike than every pair of two voices
    # a held-out take of ann's converted to dee's voice: dee's pitch, ann's word
    test = data.tensor("test").float() / 32768.0
    src = [i for i, s in enumerate(data.test_speakers) if s == "ann"]
    moved = model.convert(test[src], model.named_voice("dee").expand(len(src), -1)).cpu()
    heard = np.nanmedian(pitch_hz(moved[:, 0].numpy(), RATE))
    assert abs(heard - SPEAKERS["dee"]) < abs(heard - SPEAKERS["ann"])
    said = word_of(moved)
    asked = [data.class_names[i] for i in data.labels("test")[src].tolist()]
    assert np.mean([a == b for a, b in zip(said, asked)]) >= 0.8


def test_voices_on_the_cli_and_their_errors(voice_run, tmp_path):
    run, model, _ = voice_run
    runner = CliRunner()
    res = runner.invoke(app, ["sample", str(run), "--voice", "new", "-n", "3", "--class", "rise",
                              "--out", str(tmp_path / "new")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "new").glob("*.wav"))) == 3
    res = runner.invoke(app, ["sample", str(run), "--mode", "interpolate", "--voice", "ann", "--voice", "dee",
                              "-n", "4", "--out", str(tmp_path / "path.npz")])  # fmt: skip
    assert res.exit_code == 0, res.output
    with np.load(tmp_path / "path.npz") as z:
        f0 = np.nanmedian(pitch_hz(z["audio"], RATE).reshape(4, -1), 1)
    assert f0[0] < f0[-1]  # from ann's low voice towards dee's high one
    with pytest.raises(ConfigError, match="ann, bob, cy, dee"):
        voice_samples(model, 2, voices=["eve"])
    (tmp_path / "silent.wav").write_bytes(b"")
    sf.write(tmp_path / "silent.wav", np.zeros(RATE, np.float32), RATE)
    (tmp_path / "junk.wav").write_bytes(b"RIFF junk")
    for bad in ("silent.wav", "junk.wav"):
        with pytest.raises(DataError, match=f"--voice-from .*{bad}"):
            voice_samples(model, 2, voice_from=file_blobs([tmp_path / bad], "--voice-from"))
    # convert: one file in, one file out, in the voice of a recording
    sf.write(tmp_path / "me.wav", planted(520.0, WORDS["rise"], 0.0), RATE)
    sf.write(tmp_path / "clip.wav", planted(200.0, WORDS["fall"], 0.0), RATE)
    out = convert_file(model, tmp_path / "clip.wav", tmp_path / "out.wav", voice_from=[tmp_path / "me.wav"])
    assert out == [tmp_path / "out.wav"] and sf.info(str(out[0])).samplerate == RATE
    res = runner.invoke(app, ["convert", str(run), "--input", str(tmp_path / "clip.wav"), "--out",
                              str(tmp_path / "o2.wav"), "--voice", "new"])  # fmt: skip
    assert res.exit_code != 0 and "--voice NAME" in str(res.exception)


def test_data_without_speakers_is_named(tmp_path):
    from genforge.modalities.audio.sources import AudioData

    y = np.array([0, 1, 0, 1])
    data = AudioData(name="unnamed", train=np.zeros((4, 4000), np.int16), test=np.zeros((2, 4000), np.int16),
                     train_labels=y, test_labels=y[:2], class_names=["a", "b"], split="s", fingerprint="f",
                     sample_rate=RATE)  # fmt: skip
    with pytest.raises(DataError, match="unnamed does not name them"):
        trained(tiny_config("voice-vae", source="spoken-digits"), tmp_path / "r", data)


@pytest.mark.integration
def test_voices_on_the_server(voice_run):
    import base64

    from fastapi.testclient import TestClient

    from genforge.serve.app import create_app

    run, _, _ = voice_run
    client = TestClient(create_app([run]))
    api = f"/api/{run.name}"
    assert client.get(f"{api}/voices").json() == {"voices": sorted(SPEAKERS)}
    r = client.post(f"{api}/speak", json={"voice": "cy", "class": "peak", "n": 3, "seed": 2})
    assert r.status_code == 200 and len(r.json()["clips"]) == 3 and r.json()["labels"] == ["peak"] * 3
    clip = base64.b64encode(open(next((voice_folder_of(run)).rglob("*.wav")), "rb").read()).decode()
    one = client.post(f"{api}/convert", json={"clip": clip, "voice": "ann", "format": "wav"})
    assert one.status_code == 200 and one.content[:4] == b"RIFF"
    assert client.post(f"{api}/speak", json={"voice": "eve"}).status_code == 422
    assert "not base64" in client.post(f"{api}/convert", json={"clip": "***", "voice": "ann"}).text
    assert client.post(f"{api}/convert", json={"clip": clip}).status_code == 422  # no voice to speak in


def voice_folder_of(run) -> Path:
    from genforge.run import read_config

    return Path(read_config(run)[0].data.source)


@pytest.mark.integration
@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="Debian's chromium is not installed")
def test_the_page_voice_panel_speaks(voice_run):
    from genforge.serve.app import create_app

    from .test_serve import browser_on

    run, _, _ = voice_run
    with browser_on(create_app([run])) as (page, url):
        page.goto(url)
        page.wait_for_function("document.querySelectorAll('#voice option').length === 5")  # new + four speakers
        page.select_option("#voice", "bob")
        page.fill("#voice_n", "2")
        page.click("#speak")
        page.wait_for_function("document.querySelectorAll('#voice_clips audio').length === 2")


@pytest.mark.integration
def test_the_report_plays_voices_and_maps_them(voice_run):
    from genforge.report import write_run_report

    run, _, _ = voice_run
    page = write_run_report(run).read_text()
    assert "id='voices'" in page and "ann as bob" in page and 'alt="voice map"' in page
