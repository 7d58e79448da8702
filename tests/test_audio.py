"""Audio: the spoken-digits set, audio folders, the modality's files and players, the spectrogram
and waveform networks, and the audio metrics on real clips."""

import io
import json

import numpy as np
import pytest
import soundfile as sf
import torch
from fastapi.testclient import TestClient

import genforge
from genforge.errors import ConfigError, DataError
from genforge.evaluate import metrics as M
from genforge.modalities import MODALITIES
from genforge.modalities.audio.dsp import istft, log_mel, stft
from genforge.modalities.audio.modality import AudioDataConfig
from genforge.modalities.audio.sources import load_audio, synthesize_digits
from genforge.modalities.audio.spectrogram import Spectrogram
from genforge.modalities.audio.wavegan import (
    WaveDiscriminator,
    WaveGANConfig,
    WaveGenerator,
    phase_shuffle,
    smooth_upsampling,
)
from genforge.models import FAMILIES
from genforge.report import write_report
from genforge.serve.app import create_app
from genforge.train import Trainer

from .conftest import AUDIO, tiny_config

AUD = MODALITIES.get("audio")


def quiet():
    return {"progress": False, "log": lambda s: None}


def test_spoken_digits_are_labelled_one_second_clips_split_by_speaker(audio_data):
    assert audio_data.class_names[7] == "seven" and audio_data.n_classes == 10
    assert audio_data.train.shape[1] == AUDIO["sample_rate"] * AUDIO["seconds"] and audio_data.train.dtype == np.int16
    raw = synthesize_digits(60, 8000, 4000, 0.2, seed=1)
    speaker = lambda name: name.split("/")[0]  # noqa: E731  (speaker/word/speed/pitch)
    assert raw.test_ids and not {speaker(n) for n in raw.test_ids} & {speaker(n) for n in raw.ids}
    # every clip starts with speech (leading silence trimmed) and is not silent
    x = AUD.to_model(audio_data.tensor("train"))
    assert (x[:, 0, :200].abs().amax(1) > 0.01).float().mean() > 0.9


def test_spoken_digits_are_cached_by_recipe(audio_data):
    again = load_audio(AudioDataConfig(**AUDIO))
    assert again.fingerprint == audio_data.fingerprint


@pytest.fixture
def audio_folder(tmp_path, audio_data):
    """Real clips as files of several kinds (44.1 kHz stereo, FLAC), with an unreadable, an empty and a silent one."""
    root = tmp_path / "sounds"
    clips = AUD.to_model(audio_data.tensor("test"))[:, 0].numpy()
    for i, (clip, y) in enumerate(zip(clips[:12], audio_data.test_labels[:12])):
        folder = root / audio_data.class_names[y]
        folder.mkdir(parents=True, exist_ok=True)
        if i % 3 == 0:  # stereo at 44.1 kHz
            up = np.interp(np.linspace(0, len(clip) - 1, int(len(clip) * 44100 / 8000)), np.arange(len(clip)), clip)
            sf.write(folder / f"{i}.wav", np.stack([up, up], 1), 44100)
        else:
            sf.write(folder / f"{i}.flac", clip, 8000)
    first = root / audio_data.class_names[audio_data.test_labels[0]]
    (first / "broken.wav").write_bytes(b"RIFF\x00\x00 not a wav file")
    sf.write(first / "empty.wav", np.zeros(0), 8000)
    sf.write(first / "quiet.wav", np.zeros(4000), 8000)
    return root


def test_audio_folder_resamples_mixes_down_and_names_bad_files(audio_folder):
    cfg = AudioDataConfig(source=str(audio_folder), sample_rate=8000, seconds=0.5)
    data = load_audio(cfg)
    assert len(data.train) + len(data.test) == 12 and data.train.shape[1] == 4000
    reasons = {p.split("/")[-1]: r for p, r in data.problems}
    assert set(reasons) == {"broken.wav", "empty.wav", "quiet.wav"}
    assert "not a readable audio file" in reasons["broken.wav"] and "empty" in reasons["empty.wav"]
    assert "silent" in reasons["quiet.wav"]
    rep = AUD.report(data)
    assert rep["source"]["sample_rates"] == {"44100": 4, "8000": 8}
    assert "3 unusable file(s)" in AUD.format_report(rep)
    with pytest.raises(DataError, match="broken.wav: not a readable audio file"):
        load_audio(cfg.model_copy(update={"strict": True}))


def test_samples_round_trip_through_npz_wav_folders_and_uploads(audio_data, tmp_path):
    stored = audio_data.tensor("test")[:5]
    clips = AUD.to_samples(stored, audio_data.codec)
    AUD.write(clips, tmp_path / "a.npz", labels=np.arange(5))
    back, labels = AUD.read(tmp_path / "a.npz", audio_data)
    assert back.shape == stored.shape and (back.int() - stored.int()).abs().max() <= 2  # int16 rounding only
    assert labels.tolist() == [0, 1, 2, 3, 4]
    folder = AUD.write(clips, tmp_path / "clips", labels=[7] * 5, class_names=audio_data.class_names)
    assert sorted(p.name for p in folder.iterdir())[0] == "0_seven.wav"
    x, rate = sf.read(folder / "0_seven.wav")
    assert rate == 8000 and len(x) == 4000
    joined = AUD.write(clips, tmp_path / "all.wav")
    assert sf.info(str(joined)).duration == pytest.approx(5 * 0.5 + 4 * 0.25)
    up = AUD.from_upload((folder / "0_seven.wav").read_bytes(), (1, 4000), 8000)
    assert up.shape == (1, 1, 4000) and (up[0] - stored[0]).abs().max() <= 2  # int16 rounding only
    with pytest.raises(ValueError, match="not an audio file"):
        AUD.from_upload(b"hello", (1, 4000), 8000)


def test_spectrogram_normalises_and_griffin_lim_rebuilds_the_sound(audio_data):
    x = AUD.to_model(audio_data.tensor("test")[:8])
    spec = Spectrogram(128, x.shape[-1])
    spec.fit(audio_data.tensor("train"), AUD.to_model)
    s = spec(x)
    assert s.shape == (8, 1, 64, 64) and s.min() >= -1 and s.max() <= 1 and abs(float(s.mean())) < 0.3
    y = spec.invert(s, iters=32)
    assert y.shape == x.shape
    mel = lambda t: log_mel(t, 8000, n_mels=32, n_fft=256, hop=128)  # noqa: E731
    own = (mel(y) - mel(x)).abs().mean()
    other = (mel(y) - mel(x.roll(1, 0))).abs().mean()  # the next clip: another word or voice
    assert own < 0.6 * other, (own, other)
    with pytest.raises(ConfigError, match="model.n_fft=32 is too small.*use model.n_fft=128"):
        Spectrogram(32, 4000)


def test_specvae_fits_its_mixture_prior_to_the_spectrograms_codes(audio_data, tmp_path):
    sets = ("model.prior=gmm", "model.prior_components=3", "train.steps=10")
    tr = Trainer(tiny_config("specvae", *sets, source="spoken-digits"), tmp_path, data=audio_data, **quiet())
    tr.fit()
    m = genforge.load(tmp_path)
    draw = lambda: m.prior(64, torch.Generator().manual_seed(1))  # noqa: E731
    assert torch.equal(draw(), tr.model.prior(64, torch.Generator().manual_seed(1)))  # fitted, saved, seeded
    assert not torch.equal(draw(), torch.randn(64, m.latent_dim, generator=torch.Generator().manual_seed(1)))
    assert m.sample(2).shape == (2, 1, 4000)


def test_wavegan_shapes_and_phase_shuffle():
    g = WaveGenerator(WaveGANConfig(width=0.0625, kernel=9), (1, 16000))
    assert g(torch.randn(2, 100)).shape == (2, 1, 16000)  # 16 * 4**5 = 16384 samples cropped
    h = torch.arange(10.0).view(1, 1, 10).repeat(4, 2, 1)
    torch.manual_seed(0)
    out = phase_shuffle(h, 2)
    assert out.shape == h.shape
    shifts = out[:, 0, 5] - h[:, 0, 5]  # each example shifted by one k in -2..2, the same on every channel
    assert set(shifts.tolist()) <= {-2.0, -1.0, 0.0, 1.0, 2.0} and torch.equal(out[:, 0], out[:, 1])
    d = WaveDiscriminator(WaveGANConfig(width=0.0625, kernel=9, d_norm="batch"), (1, 16000))
    assert [type(n).__name__ for n in d.norms] == ["Identity"] + ["BatchNorm1d"] * (len(d.convs) - 1)
    assert d(torch.randn(3, 1, 16000)).shape == (3,)


def test_smooth_init_starts_wavegan_samples_apart():
    conv = torch.nn.ConvTranspose1d(3, 2, 25, 4, padding=11, output_padding=1, bias=False)
    smooth_upsampling(conv)
    flat = conv(torch.ones(1, 3, 40))[0, :, 24:-24]  # away from the edges
    assert torch.allclose(flat, flat[:, :1].expand_as(flat), atol=1e-5)  # no periodic pattern from a constant
    z, y = torch.randn(64, 100, generator=torch.Generator().manual_seed(0)), torch.arange(64) % 10
    corr = {}
    for smooth in (False, True):
        torch.manual_seed(0)
        cfg = WaveGANConfig(width=0.125, init="torch", smooth_init=smooth, ema=0.99, conditional=True)
        wg = FAMILIES.get("wavegan")(cfg, (1, 16000), 10)
        with torch.no_grad():
            corr[smooth] = M.pairwise_correlation(wg.G(z, y).flatten(1))["value"]
            assert torch.equal(wg.G(z, y), wg.G_ema(z, y))
    assert corr[False] > 0.9 and corr[True] < 0.3, corr  # one shared pattern before; apart after


def test_istft_inverts_torch_stft_and_the_istft_generator_starts_quiet_and_apart():
    x = torch.randn(3, 1, 4000, generator=torch.Generator().manual_seed(0))
    spec = stft(x, 256, 64)  # [3, 129, 63]
    assert torch.allclose(istft(spec.real, spec.imag, 256, 64, 4000), x, atol=1e-4)
    z, y = torch.randn(64, 100, generator=torch.Generator().manual_seed(0)), torch.arange(64) % 10
    torch.manual_seed(0)
    wg = FAMILIES.get("wavegan")(
        WaveGANConfig(width=0.0625, generator="istft", ema=0.99, conditional=True), (1, 4000), 10
    )
    with torch.no_grad():
        clips = wg.G(z, y)  # [64, 1, 4000]
    assert clips.shape == (64, 1, 4000) and torch.equal(clips, wg.G_ema(z, y))
    assert clips.pow(2).mean().sqrt() < 0.02  # quiet noise, not full scale
    assert M.pairwise_correlation(clips.flatten(1))["value"] < 0.1  # every z its own phases
    wg.G(z[:4], y[:4]).pow(2).mean().backward()
    assert all(p.grad is not None and p.grad.isfinite().all() for p in wg.G.parameters())


def test_wavegan_spectrogram_critic_hears_the_spectrum_and_passes_its_gradient_to_the_clip():
    d = WaveDiscriminator(WaveGANConfig(width=0.0625, kernel=9, spectrogram_critic=True), (1, 16000), n_classes=10)
    t = torch.arange(16000) / 16000
    tones = torch.stack([0.5 * torch.sin(2 * torch.pi * f * t) for f in (1000.0, 3000.0)]).unsqueeze(1)
    pic = d.spectral.picture(tones)  # [2, 1, 128, 128]; bins 62.5 Hz apart
    assert pic.shape == (2, 1, 128, 128)
    assert pic[:, 0, :, 64].argmax(-1).tolist() == [16, 48]  # 1 kHz and 3 kHz
    x = tones.clone().requires_grad_(True)
    d(x, torch.tensor([3, 7])).sum().backward()  # the logit reads both branches
    assert d.out.in_features == d.convs[-1].out_channels * 16 + d.spectral.n_features
    assert x.grad.isfinite().all() and x.grad.abs().sum() > 0


def test_wavegan_paper_step_runs_wgan_gp_on_waveforms(audio_data, tmp_path):
    cfg = tiny_config("wavegan", "train.steps=6", "model.n_critic=2", preset="paper", source="spoken-digits")
    Trainer(cfg, tmp_path, data=audio_data, **quiet()).fit()
    recs = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss_d"]) for r in recs)


def test_specgan_steps_channels_last_and_computes_what_the_default_layout_computes(audio_data):
    x = AUD.to_model(audio_data.tensor("train")[:8])
    losses, weights = {}, {}
    for last in (True, False):
        cfg = tiny_config("specgan", f"model.channels_last={last}", "model.dropout=0", source="spoken-digits")
        torch.manual_seed(0)
        m = FAMILIES.get("specgan")(cfg.model, (1, 4000))
        m.spec.fit(audio_data.tensor("train"), AUD.to_model)
        opts = m.configure_optimizers(cfg.train)
        torch.manual_seed(1)
        losses[last] = [float(v) for _ in range(2) for v in m.train_step(x, None, opts).values()]
        weights[last] = next(p for p in m.parameters() if p.dim() == 4 and p.shape[1] > 1 and p.shape[2] > 1)
    assert weights[True].is_contiguous(memory_format=torch.channels_last) and not weights[True].is_contiguous()
    assert weights[False].is_contiguous()
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)


def test_sample_correlation_tells_one_repeated_sound_from_real_clips(audio_data):
    real = AUD.to_model(audio_data.tensor("test")[:64]).flatten(1)
    one = real[:1] * torch.linspace(-1, 1, 64)[:, None] + 0.01 * torch.randn(64, real.shape[1])  # one sound, any gain
    r, c = M.pairwise_correlation(real), M.pairwise_correlation(one)
    assert r["value"] < 0.2 and c["value"] > 0.8, (r, c)
    assert r["interval"][0] <= r["value"] <= r["interval"][1]


def test_a_speech_recogniser_hears_the_digit_asked_for_in_real_clips_not_in_noise_or_under_another_label(
    audio_data,
):
    """speech_agreement: PocketSphinx, limited to the class names, hears real spoken digits as their labels
    far more often than as another digit's, and noise as nothing asked for; classes that are not words it
    knows get no figure."""
    from types import SimpleNamespace as NS

    from genforge.modalities.audio.speech import speech_agreement

    clips, labels = audio_data.tensor("train")[:60], audio_data.labels("train")[:60]
    ctx = NS(data=audio_data)
    real = speech_agreement(ctx, NS(stored=clips, labels=labels))["speech_agreement"]
    shifted = speech_agreement(ctx, NS(stored=clips, labels=(labels + 5) % 10))["speech_agreement"]
    noise = torch.randn(clips.shape, generator=torch.Generator().manual_seed(0)).mul(3000).short()
    heard_noise = speech_agreement(ctx, NS(stored=noise, labels=labels))["speech_agreement"]
    assert real["value"] > 0.4 and real["value"] > shifted["value"] + 0.3, (real, shifted)
    assert heard_noise["value"] < 0.2 and real["n"] == 60
    assert set(real["per_class"]) <= set(audio_data.class_names) and max(real["per_class"].values()) > 0.5
    not_words = NS(data=NS(class_names=["qzx17", "vvk2"], sample_rate=audio_data.sample_rate))
    assert speech_agreement(not_words, NS(stored=clips, labels=labels % 2)) == {}


def test_modified_inception_score_rewards_confident_varied_samples():
    eye = torch.eye(10).repeat(50, 1) * 0.99 + 0.001
    assert M.modified_inception_score(eye)["value"] > 50  # confident and spread over 10 classes
    assert M.modified_inception_score(eye[::10])["value"] == pytest.approx(1.0, abs=1e-6)  # one class only
    assert M.modified_inception_score(torch.full((100, 10), 0.1))["value"] == pytest.approx(1.0)


@pytest.mark.integration
def test_audio_sanity_conditions_move_the_figures_the_right_way(audio_data):
    from genforge.evaluate.evaluate import evaluate_samples
    from genforge.evaluate.features import get_extractor

    ext = get_extractor(audio_data, steps=150, log=None)
    conds = MODALITIES.get("audio").sanity_conditions(audio_data, 60)
    assert set(conds) >= {"real (floor)", "noise SNR 0 dB", "low-pass 1000 Hz", "time-reversed", "training clips"}
    fd = {
        k: evaluate_samples(v, audio_data, ext, ["fd", "classifier_score"], floors=False, draws=2)["metrics"]
        for k, v in conds.items()
        if k in ("real (floor)", "noise SNR 0 dB", "time-reversed")
    }
    assert fd["noise SNR 0 dB"]["fd"]["value"] > 2 * fd["real (floor)"]["fd"]["value"]
    assert fd["time-reversed"]["fd"]["value"] > 2 * fd["real (floor)"]["fd"]["value"]
    assert fd["real (floor)"]["classifier_score"]["value"] > fd["time-reversed"]["classifier_score"]["value"]


@pytest.fixture(scope="module")
def specgan_run(audio_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("specgan")
    cfg = tiny_config("specgan", "train.steps=20", "model.conditional=true", source="spoken-digits")
    Trainer(cfg, run, data=audio_data, **quiet()).fit()
    return run


def test_report_plays_samples_and_real_clips_in_one_file(specgan_run, audio_data):
    page = write_report(specgan_run).read_text()
    assert page.count("<audio controls") >= 8 + 10 and "data:audio/wav;base64," in page
    assert 'src="http' not in page and "seven" in page  # self-contained; a player per class


def test_server_answers_wav_clips(specgan_run):
    client = TestClient(create_app([specgan_run]))
    name = specgan_run.name
    j = client.get(f"/api/{name}/generate?n=3&seed=1&class=seven").json()
    assert len(j["clips"]) == 3 and j["sample_rate"] == 8000 and j["labels"] == ["seven"] * 3
    x, rate = sf.read(io.BytesIO(__import__("base64").b64decode(j["clips"][0])))
    assert rate == 8000 and len(x) == 4000
    r = client.get(f"/api/{name}/generate?n=2&format=wav")
    assert r.headers["content-type"] == "audio/wav" and r.content[:4] == b"RIFF"
    r = client.get(f"/api/{name}/preview")  # the newest training preview, as the live page plays it
    assert r.headers["content-type"] == "audio/wav" and sf.info(io.BytesIO(r.content)).samplerate == 8000


def test_sample_cli_writes_wavs_and_npz(specgan_run, tmp_path):
    from typer.testing import CliRunner

    from genforge.cli import app

    res = CliRunner().invoke(
        app, ["sample", str(specgan_run), "-n", "4", "--class", "two", "--out", str(tmp_path / "s.npz")]
    )
    assert res.exit_code == 0, res.output
    with np.load(tmp_path / "s.npz") as z:
        assert z["audio"].shape == (4, 4000) and int(z["sample_rate"]) == 8000 and z["labels"].tolist() == [2] * 4
    model = genforge.load(specgan_run)
    assert model.sample(2, seed=5).shape == (2, 1, 4000)


@pytest.mark.integration
@pytest.mark.parametrize("family", ["wavegan", "specgan", "ddsp"])
def test_onnx_export_computes_what_pytorch_computes(family, audio_data, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from genforge.sample import export

    cfg = tiny_config(family, "train.steps=3", "model.conditional=true", source="spoken-digits")
    Trainer(cfg, tmp_path, data=audio_data, **quiet()).fit()
    model = genforge.load(tmp_path)
    path = export(model, "onnx", tmp_path / "g.onnx")
    z, y = model.prior(3, torch.Generator().manual_seed(0)), torch.tensor([0, 7, 9])
    want = model.decode(z, y).detach().numpy()
    got = ort.InferenceSession(str(path)).run(None, {"z": z.numpy(), "y": y.numpy()})[0]
    assert got.shape == (3, 1, 4000)
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.slow
def test_tune_a_specgan_on_frechet_distance(audio_data, tmp_path):
    from genforge.tune import tune

    data_cfg = AudioDataConfig(**AUDIO)
    kw = {"trials": 2, "steps_per_trial": 10, "out_root": tmp_path, "n_eval": 60, "extractor_steps": 40}
    summary = tune(
        "specgan",
        data_cfg,
        study_name="a",
        confirm_seeds=1,
        sets=("model.width=0.125", "model.n_fft=128", "model.griffin_lim_iters=4"),
        log=lambda s: None,
        **kw,
    )
    assert summary["objective"] == "fd" and summary["best"]["value"] > 0
    assert list((tmp_path / "a" / "best").glob("model.safetensors"))


@pytest.mark.integration
def test_browser_plays_generated_clips_of_a_chosen_class(specgan_run):
    from .test_serve import CHROMIUM, browser_on

    if not __import__("os").path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with browser_on(create_app([specgan_run])) as (page, url):
        page.goto(url)
        page.wait_for_function("document.querySelectorAll('#clips audio').length === 16")
        assert page.is_hidden("#grid") and page.is_visible("#classbox")
        page.select_option("#class", "seven")
        page.wait_for_function(
            "[...document.querySelectorAll('#clips figcaption')].every(c => c.textContent === 'seven')"
        )
        # the players hold WAV files ("RIFF" in base64)
        assert page.evaluate("document.querySelector('#clips audio').src.startsWith('data:audio/wav;base64,UklGR')")


def test_unlabelled_audio_gets_a_contrastive_encoder_that_tells_noise_from_speech(audio_data, tmp_path):
    from genforge.evaluate.evaluate import evaluate_samples
    from genforge.evaluate.features import get_extractor

    clips = AUD.to_model(audio_data.tensor("train"))[:60, 0].numpy()
    for i, clip in enumerate(clips):  # a flat folder: no labels
        sf.write(tmp_path / f"{i}.wav", clip, 8000)
    data = load_audio(AudioDataConfig(source=str(tmp_path), sample_rate=8000, seconds=0.5, test_fraction=0.5))
    assert data.n_classes == 0
    ext = get_extractor(data, steps=30, log=None)
    assert ext.kind == "contrastive"
    conds = MODALITIES.get("audio").sanity_conditions(data, 30)
    fd = {
        k: evaluate_samples(conds[k], data, ext, ["fd"], floors=False, draws=2)["metrics"]["fd"]["value"]
        for k in ("real (floor)", "noise SNR 0 dB")
    }
    assert fd["noise SNR 0 dB"] > 2 * fd["real (floor)"], fd


def test_real_convolution_stft_matches_torch_stft_and_inverts(audio_data):
    from genforge.modalities.audio.dsp import _dft_bases, _envelope, _istft_real, _stft_real, stft

    x = AUD.to_model(audio_data.tensor("test")[:4])
    fwd, inv = _dft_bases(256)
    re, im = _stft_real(x, fwd, 125)
    want = stft(x, 256, 125)
    assert (re - want.real).abs().max() < 1e-4 and (im - want.imag).abs().max() < 1e-4
    back = _istft_real(re, im, inv, _envelope(256, 125, re.shape[-1], "cpu"), 125, x.shape[-1])
    assert (back - x).abs().max() < 1e-4
