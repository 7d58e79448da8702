"""Music: melodies from real folk songs and from MIDI / MusicXML / ABC files, the event codec, MIDI out and
back, FluidSynth rendering, interpolation between two melodies, and the musical figures."""

import base64
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from genforge.errors import DataError
from genforge.evaluate import evaluate_samples, get_extractor
from genforge.modalities import MODALITIES
from genforge.modalities.audio.dsp import hz_to_midi, pitch_hz
from genforge.modalities.audio.modality import AudioDataConfig
from genforge.modalities.audio.notes import INSTRUMENTS, VELOCITIES, load_instrument_notes
from genforge.modalities.audio.sources import load_audio
from genforge.modalities.audio.synth import SOUNDFONT
from genforge.modalities.music.midi import RENDER_RATE, midi_bytes, render
from genforge.modalities.music.modality import MusicDataConfig
from genforge.modalities.music.musicset import HOLD, OFF, MelodyCodec, load_music, midi_melody
from genforge.modalities.music.sources import top_voice
from genforge.sample.sampling import interpolate_inputs

from .conftest import tiny_config, trained

MUSIC = MODALITIES.get("music")
# a 2-bar melody: rests, adjacent notes, a note held over the bar line, a last note cut by the window's end
NOTES = np.array([[2, 6, 60], [6, 8, 62], [10, 20, 64], [20, 22, 65], [28, 32, 72]], np.int32)


def test_codec_round_trips_notes_with_rests_and_adjacent_notes():
    codec = MelodyCodec(bars=2)
    events = codec.to_events(NOTES)
    assert events.shape == (33,) and events[8] == OFF and events[6] != OFF and events[0] == HOLD
    assert np.array_equal(codec.to_notes(events), NOTES)


def test_top_voice_keeps_the_highest_note_and_cuts_at_the_next_onset():
    on, end, pitch = np.array([0, 0, 4, 6]), np.array([8, 8, 12, 7]), np.array([60, 67, 62, 50])
    assert top_voice(on, end, pitch).tolist() == [[0, 4, 67], [4, 6, 62], [6, 7, 50]]


def write_score(path: Path, notes) -> None:
    """A one-part MusicXML file in 4/4 of (quarter-note offset, quarter lengths, MIDI pitch) notes."""
    from music21 import meter, note, stream

    part = stream.Part()
    part.insert(0, meter.TimeSignature("4/4"))
    for off, dur, p in notes:
        part.insert(off, note.Note(p, quarterLength=dur))
    stream.Score([part]).write("musicxml", fp=str(path))


ABC = """X:1
T:Up
M:4/4
L:1/8
K:C
CDEF GABc|cBAG FEDC|
X:2
T:Down
M:3/4
L:1/4
K:G
GAB|dcB|AGF|G3|
"""


@pytest.fixture(scope="module")
def music_files(tmp_path_factory):
    """A folder of each kind users give, two labels, and one bad file of each kind of fault."""
    root = tmp_path_factory.mktemp("files") / "melodies"
    (root / "midi").mkdir(parents=True)
    (root / "scores").mkdir()
    codec = MelodyCodec(bars=2)
    (root / "midi" / "a.mid").write_bytes(midi_bytes(NOTES, codec))
    (root / "midi" / "b.midi").write_bytes(midi_bytes(NOTES + [0, 0, 5], codec))
    (root / "midi" / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    drums = codec.to_midi(NOTES)
    drums.instruments[0].is_drum = True
    drums.write(str(root / "midi" / "drums.mid"))
    write_score(root / "scores" / "c.musicxml", [(0, 1, 67), (1, 1, 69), (2, 2, 71), (4, 4, 72)])
    (root / "scores" / "no_meter.abc").write_text("X:1\nT:No meter\nL:1/4\nK:C\nCDEF|GABc|\n")
    (root / "scores" / "tunes.abc").write_text(ABC)
    return root


def test_a_folder_of_midi_musicxml_and_abc_reads_with_labels_and_names_bad_files(music_files, tmp_path, monkeypatch):
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path))
    data = load_music(MusicDataConfig(source=str(music_files), bars=1, test_fraction=0.3))
    assert data.class_names == ["midi", "scores"]
    assert data.train.shape[1] == 17 and len(data.train) + len(data.test) >= 6
    reasons = {Path(f).name: r for f, r in data.problems}
    assert set(reasons) == {"broken.mid", "drums.mid", "no_meter.abc#1"}
    assert "no time signature" in reasons["no_meter.abc#1"] and "drum" in reasons["drums.mid"]
    assert "not a readable MIDI file" in reasons["broken.mid"]
    rep = MUSIC.report(data)
    assert len(rep["problems"]) == 3 and rep["pitch"]["min"] == 60 and "broken.mid" in MUSIC.format_report(rep)
    assert rep["duplicates"]["groups"] == 0 and rep["class_counts"]["train"]["midi"] >= 1
    with pytest.raises(DataError, match="broken.mid"):
        load_music(MusicDataConfig(source=str(music_files), bars=1, strict=True))


def test_abc_tunes_are_melodies_on_the_grid(music_files, tmp_path, monkeypatch):
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path))
    only = tmp_path / "abc"
    only.mkdir()
    shutil.copy(music_files / "scores" / "tunes.abc", only)
    data = load_music(MusicDataConfig(source=str(only), bars=1, test_fraction=0.5))
    melodies = MUSIC.to_samples(torch.from_numpy(np.concatenate([data.train, data.test])), data.codec)
    up = next(m for m in melodies if m[0, 2] == 60)  # "Up": C D E F G A B c in eighths
    assert up[:, 2].tolist() == [60, 62, 64, 65, 67, 69, 71, 72] and (up[:, 1] - up[:, 0] == 2).all()


def test_transposition_adds_shifted_training_copies_in_range(music_data, music_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path))
    aug = load_music(MusicDataConfig(source=str(music_folder), bars=1, transpose=(-2, 2)))
    assert 4 * len(music_data.train) >= len(aug.train) - len(music_data.train) > 3 * len(music_data.train)
    assert np.array_equal(aug.test, music_data.test)  # held-out melodies are never transposed


def test_sampled_midi_files_parse_back_to_the_notes_sampled(music_data, music_folder, tmp_path):
    cfg = tiny_config("music-lm", "train.steps=20", source=str(music_folder))
    _, model = trained(cfg, tmp_path / "r", music_data)
    samples = MUSIC.to_samples(model.sample(6, seed=1), music_data.codec)
    MUSIC.write(samples, tmp_path / "out")
    files = sorted((tmp_path / "out").glob("*.mid"))
    assert len(files) == 6
    for f, m in zip(files, samples):
        if len(m):  # a melody of one bar comes back from its bar line: the notes as sampled
            assert np.array_equal(midi_melody(f.read_bytes(), music_data.codec), m), f
    stored, _ = MUSIC.read(tmp_path / "out", music_data)
    assert stored.shape == (6, music_data.train.shape[1])


NO_SYNTH = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not SOUNDFONT.is_file(),
    reason="apt-get install fluidsynth fluid-soundfont-gm",
)


@NO_SYNTH
@pytest.mark.integration
def test_fluidsynth_renders_the_pitch_played_as_the_pitch_tracker_hears_it():
    codec = MelodyCodec(bars=1)
    for pitch in (45, 57, 69, 81):  # A2..A5: 110..880 Hz
        audio = render(np.array([[0, 8, pitch]], np.int32), codec)
        assert abs(hz_to_midi(pitch_hz(audio[None], RENDER_RATE))[0] - pitch) < 0.5, pitch
        assert np.sqrt((audio[16000:] ** 2).mean()) < 0.1 * np.sqrt((audio[:8000] ** 2).mean())  # the note ends


def test_the_pitch_tracker_finds_the_fundamental_of_harmonic_tones_and_none_in_silence():
    t = np.arange(16000) / 16000
    hz = np.array([55.0, 196.0, 440.0, 1318.5])
    tones = sum(a * np.sin(2 * np.pi * k * hz[:, None] * t) for k, a in ((1, 0.2), (2, 0.5), (3, 0.3)))
    assert np.allclose(pitch_hz(tones, 16000), hz, rtol=0.005)  # a weak fundamental is still the pitch
    assert np.isnan(pitch_hz(np.zeros((1, 16000)), 16000)).all()


@NO_SYNTH
@pytest.mark.integration
def test_instrument_notes_hold_out_unheard_pairs_and_sound_at_their_pitch(tmp_path, monkeypatch):
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path))
    cfg = AudioDataConfig(source="instrument-notes", pitches=(60, 64), sample_rate=8000, seconds=0.5)
    raw = load_instrument_notes("instrument-notes", cfg)
    pair = lambda i: i.rsplit("/", 1)[0]  # noqa: E731  instrument/pitch of an id instrument/pitch/velocity
    assert not {pair(i) for i in raw.test_ids} & {pair(i) for i in raw.ids}
    assert len(raw.ids) + len(raw.test_ids) == len(INSTRUMENTS) * 5 * len(VELOCITIES)
    data = load_audio(cfg)  # from the cache
    assert data.class_names == ["C4", "C#4", "D4", "D#4", "E4"] and data.train.shape[1] == 4000
    ext = get_extractor(data, steps=30, log=None)
    test, y = data.tensor("test"), data.labels("test")
    right = evaluate_samples(test, data, ext, ["pitch_accuracy"], floors=False, fake_labels=y)["metrics"]
    wrong = evaluate_samples(test, data, ext, ["pitch_accuracy"], floors=False, fake_labels=(y + 2) % 5)["metrics"]
    assert right["pitch_accuracy"]["value"] > 0.6 > 0.1 > wrong["pitch_accuracy"]["value"]


@pytest.mark.integration
def test_interpolation_endpoints_decode_to_the_two_melodies(music_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path))
    data = load_music(MusicDataConfig(source=str(music_folder), bars=1, limit=8))
    sets = ["train.steps=900", "model.hidden=64", "model.latent_dim=16", "model.beta=0.02", "model.kl_anneal=none"]
    sets += ["model.word_dropout=0", "model.dropout=0", "model.free_bits=0", "train.lr=6e-3"]
    _, model = trained(tiny_config("music-vae", *sets, source=str(music_folder)), tmp_path / "r", data)
    a, b = data.tensor("train")[:1], data.tensor("train")[3:4]
    a_path = tmp_path / "a.mid"
    a_path.write_bytes(midi_bytes(MUSIC.to_samples(a, data.codec)[0], data.codec))
    a_read = MUSIC.from_upload(a_path.read_bytes(), data.shape, data.codec)  # `--between a.mid` reads it so
    path = interpolate_inputs(model, a_read, b, 5)
    assert np.array_equal(path[0], MUSIC.to_samples(a)[0]) and np.array_equal(path[-1], MUSIC.to_samples(b)[0])
    assert not np.array_equal(path[0], path[-1])


def test_musical_figures_order_real_melodies_before_known_faults(music_data):
    ext = get_extractor(music_data, steps=60, log=None)
    conds = MUSIC.sanity_conditions(music_data, 200, seed=0)
    figs = {
        k: evaluate_samples(v, music_data, ext, ["music_stats"], floors=False)
        for k, v in conds.items()
        if k in ("real (floor)", "shuffled notes", "random pitches in range", "one melody repeated")
    }
    gap = {k: v["metrics"]["music_gap"]["value"] for k, v in figs.items()}
    intervals = {k: v["metrics"]["interval_tv"]["value"] for k, v in figs.items()}
    assert gap["real (floor)"] < min(gap[k] for k in gap if k != "real (floor)"), gap
    assert intervals["real (floor)"] < min(intervals["shuffled notes"], intervals["random pitches in range"])


def test_near_copies_of_training_melodies_are_found_and_held_out_ones_are_not(music_data):
    train = MUSIC.memo_vectors(music_data.tensor("train"))
    same = MUSIC.memo_vectors(music_data.tensor("train")[:20])
    held = MUSIC.memo_vectors(music_data.tensor("test"))
    nearest = lambda q: torch.cdist(q, train).min(1).values  # noqa: E731
    assert nearest(same).max() < 1e-3 and nearest(held).median() > 0.1  # cdist rounds: 0 is about 5e-4


@pytest.mark.integration
def test_the_server_answers_piano_rolls_midi_json_and_reconstructs_an_uploaded_midi_file(
    music_data, music_folder, tmp_path
):
    from fastapi.testclient import TestClient

    from genforge.serve import create_app

    run = tmp_path / "melodies"
    trained(tiny_config("music-vae", "train.steps=5", source=str(music_folder)), run, music_data)
    client = TestClient(create_app([run]))
    roll = client.get("/api/melodies/generate", params={"n": 4, "seed": 1})
    assert roll.status_code == 200 and roll.headers["content-type"] == "image/png"
    mid = client.get("/api/melodies/generate", params={"n": 4, "seed": 1, "format": "mid"})
    js = client.get("/api/melodies/generate", params={"n": 4, "seed": 1, "format": "json"}).json()
    joined = [n for i, m in enumerate(js["melodies"]) for n in (np.array(m).reshape(-1, 3) + [i * 32, i * 32, 0])]
    import pretty_midi

    back = pretty_midi.PrettyMIDI(io.BytesIO(mid.content)).instruments[0].notes
    assert [n.pitch for n in back] == [int(n[2]) for n in joined]  # the MIDI answer plays the melodies sampled
    up = client.post("/api/melodies/reconstruct", content=midi_bytes(NOTES[NOTES[:, 0] < 16], music_data.codec))
    assert up.status_code == 200, up.text
    bad = client.post("/api/melodies/reconstruct", content=b"not midi")
    assert bad.status_code == 400 and "MIDI" in bad.text
    # the path between two uploaded melodies starts at the first one's reconstruction
    a, b = (midi_bytes(NOTES[NOTES[:, 0] < 16] + [0, 0, k], music_data.codec) for k in (0, 5))
    files = {"a": base64.b64encode(a).decode(), "b": base64.b64encode(b).decode()}
    path = client.post("/api/melodies/between", params={"format": "json", "steps": 5}, json=files)
    assert path.status_code == 200, path.text
    rec = client.post("/api/melodies/reconstruct", params={"format": "json"}, content=a).json()["melodies"][1]
    assert len(path.json()["melodies"]) == 5 and path.json()["melodies"][0] == rec
    bad = client.post("/api/melodies/between", json={"a": files["a"]})
    assert bad.status_code == 400 and bad.json()["detail"].endswith("missing: b")


def test_the_encoder_reads_unpadded_melodies_as_packing_would():
    """Melodies are all one length: the encoder skips packing them, and must give what packing gives."""
    from genforge.modalities.text.textset import PAD
    from genforge.run import build_model, resolve_config

    model = build_model(resolve_config("music-vae", sets=["model.bidirectional=true"]), (94, 33))
    x = torch.randint(6, 94, (8, 33))
    x[:, -1] = 3  # EOS
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        model.decoder.embed(x), (x != PAD).sum(1), batch_first=True, enforce_sorted=False
    )
    h = torch.cat(list(model.encoder.rnn(packed)[1]), 1)
    assert torch.allclose(model.encode(x)[0], model.encoder.mu(h), atol=1e-6)


@NO_SYNTH
@pytest.mark.integration
def test_the_page_shows_piano_rolls_and_a_player_of_the_rendered_melodies(music_data, music_folder, tmp_path):
    from genforge.serve import create_app

    from .test_serve import CHROMIUM, browser_on

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    run = tmp_path / "melodies"
    trained(tiny_config("music-vae", "train.steps=5", source=str(music_folder)), run, music_data)
    with browser_on(create_app([run])) as (page, url):
        page.goto(url)
        page.wait_for_function("document.getElementById('roll')?.naturalWidth > 0")  # the music widget's rolls
        assert "format=wav" in page.evaluate("document.getElementById('player').src")
        status = page.evaluate(
            "fetch(document.getElementById('player').src).then(r => [r.status, r.headers.get('content-type')])"
        )
        assert status == [200, "audio/wav"]  # the player's melodies, rendered by FluidSynth on the server
        # the panel between two melodies chosen as files: a piano roll of the path and its rendering
        for box, k in (("#melody_a", 0), ("#melody_b", 7)):
            midi = midi_bytes(NOTES[NOTES[:, 0] < 16] + [0, 0, k], music_data.codec)
            page.set_input_files(box, files=[{"name": f"{k}.mid", "mimeType": "audio/midi", "buffer": midi}])
        page.click("#between")
        page.wait_for_function("document.getElementById('path_roll')?.naturalWidth > 0")
        size = page.evaluate("fetch(document.getElementById('path_player').src).then(r => r.blob()).then(b => b.size)")
        assert size > 44 and page.inner_text("#error") == ""  # more than a WAV header


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_the_conductor_decoder_steps_to_its_teacher_forced_likelihood(cell):
    """Training runs all bars at once; sampling and the exported step go one event at a time, resetting at each
    bar line: both must give the same probabilities (3 bars of 4 events, then EOS)."""
    import torch.nn.functional as F

    from genforge.modalities.music.conductor import ConductorDecoder
    from genforge.modalities.text.sentence import shift_right

    torch.manual_seed(0)
    dec = ConductorDecoder(20, 8, 16, 5, length=13, segment=4, layers=2, cell=cell).eval()
    x = torch.randint(6, 20, (3, 13))
    x[:, -1] = 3  # EOS
    cond, inp = torch.randn(3, 5), shift_right(x)
    plan, h, stepped = dec.prepare(cond), None, torch.zeros(3)
    step = dec.step_module()
    h_exp, exported = dec.step_example(cond)[0][1][:, :1].repeat(1, 3, 1), torch.zeros(3)
    with torch.no_grad():
        for t in range(13):
            logits, h = dec.step(inp[:, t : t + 1], plan, h, t)
            stepped += F.cross_entropy(logits[:, 0], x[:, t], reduction="none")
            logits, h_exp = step(inp[:, t], h_exp, cond, torch.full((3,), t))
            exported += F.cross_entropy(logits, x[:, t], reduction="none")
        want = dec.nll(x, cond)
    assert torch.allclose(stepped, want, atol=1e-4) and torch.allclose(exported, want, atol=1e-4)
    assert dec.segments == 3


@pytest.mark.integration
def test_a_hierarchical_lstm_music_vae_learns_melodies_and_exports_its_step(music_folder, tmp_path):
    from genforge.sample.export import export

    data = load_music(MusicDataConfig(source=str(music_folder), bars=2))
    sets = ("model.conductor=true", "model.cell=lstm", "train.steps=150", "data.bars=2")
    cfg = tiny_config("music-vae", *sets, source=str(music_folder))
    test = data.tensor("test")[:200]
    from genforge.run import build_model

    before = build_model(cfg, data.shape, data.n_classes).extra_figures(test, None, k=2)["nll_iw"]["value"]
    run, model = trained(cfg, tmp_path, data)
    after = model.extra_figures(test, None, k=2)["nll_iw"]["value"]
    assert after < 0.8 * before, (before, after)
    assert model.decoder.segments == 2
    args = model.export_example()[0]
    path = export(model, "torchscript", tmp_path / "step.pt")
    with torch.no_grad():
        want, got = model.exportable()(*args), torch.jit.load(str(path))(*args)
    assert all(torch.allclose(w, g, atol=1e-5) for w, g in zip(want, got))
