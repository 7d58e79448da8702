"""The DDSP notes family: its synthesiser plays the pitch asked for, its fast harmonic sum is the plain one, it
learns real sounds; and the harmonic-to-noise figure that judges it."""

import numpy as np
import torch

from genforge.modalities import MODALITIES
from genforge.modalities.audio.bench import plain_harmonic
from genforge.modalities.audio.ddsp import DDSP, spectral_loss
from genforge.modalities.audio.dsp import hz_to_midi
from genforge.modalities.audio.harmonicity import harmonic_to_noise_db
from genforge.run import resolve_config
from genforge.train import Trainer

from .conftest import tiny_config

AUDIO_MOD = MODALITIES.get("audio")

RATE = 8000
NAMES = ["C4", "C#4", "D4", "D#4", "E4"]


def tones(rate: int = RATE, seconds: float = 0.5, per_class: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Harmonic tones at C4..E4 as int16 clips [5 * per_class, 1, T] and their classes."""
    t = np.arange(int(rate * seconds)) / rate
    hz = 440.0 * 2.0 ** ((np.arange(60, 65) - 69) / 12)
    y = np.repeat(np.arange(5), per_class)
    gain = np.random.default_rng(0).uniform(0.2, 0.5, len(y))[:, None]
    x = sum(np.sin(2 * np.pi * k * hz[y, None] * t) / k for k in (1, 2, 3)) * gain
    return torch.from_numpy((x * 32767).astype(np.int16)).unsqueeze(1), torch.from_numpy(y)


def harmonic_share(clips: torch.Tensor, midi: np.ndarray) -> np.ndarray:
    """Clips [N, 1, T] at RATE and their pitches [N] -> the share of each clip's power within 4 Hz of a
    multiple of its pitch's fundamental."""
    x = clips.squeeze(1).numpy()
    power = np.abs(np.fft.rfft(x * np.hanning(x.shape[1]), axis=1)) ** 2  # [N, bins]
    hz = np.fft.rfftfreq(x.shape[1], 1 / RATE)
    f0 = 440.0 * 2.0 ** ((midi[:, None] - 69) / 12)
    near = np.abs(hz / f0 - np.round(hz / f0)) * f0 < 4.0
    return (power * near).sum(1) / power.sum(1)


def tiny_model(n_classes: int = 5, **sets) -> DDSP:
    cfg = resolve_config("ddsp", sets=list(DDSP.tiny) + [f"model.{k}={v}" for k, v in sets.items()])
    return DDSP(cfg.model, (1, 1, int(RATE * 0.5)), n_classes)


def test_an_untrained_model_plays_the_harmonics_of_the_pitch_each_name_asks_for():
    x, y = tones()
    model = tiny_model()
    model.fit_data(x, AUDIO_MOD.to_model, NAMES, y)
    assert int(model.notes.pitches.rate) == RATE  # measured: the family is told the clips' length, not their rate
    clips = model.decode(torch.randn(5, model.latent_dim), torch.arange(5)).detach()
    assert harmonic_share(clips, np.arange(60, 65)).min() > 0.9  # random controls: any mix of its harmonics
    assert harmonic_share(clips, np.arange(61, 66)).max() < 0.5


def test_classes_that_are_not_pitch_names_get_the_pitch_their_clips_are_heard_at():
    x, y = tones()
    model = tiny_model()
    model.fit_data(x, AUDIO_MOD.to_model, ["a", "b", "c", "d", "e"], y)
    hz = model.notes.pitches.cycles.numpy() * RATE
    assert np.allclose(hz_to_midi(hz), np.arange(60, 65), atol=0.1) and int(model.notes.pitches.rate) == 0


def test_the_fast_harmonic_sum_is_the_plain_sum_of_sines():
    synth = tiny_model(harmonics=6).notes.synth
    amps = torch.rand(2, 6, len(synth.starts), dtype=torch.float64)
    freqs = torch.tensor([[0.013], [0.041]], dtype=torch.float64) * torch.arange(1, 7)
    plain = plain_harmonic(synth)(amps, freqs)  # the benchmark's reference: a sine a harmonic and sample
    fast = synth.harmonic(amps.float(), freqs.float()).double()
    assert torch.allclose(fast, plain, atol=1e-3 * plain.abs().max().item())


def test_training_on_real_speech_brings_reconstructions_closer(audio_data, tmp_path):
    cfg = tiny_config("ddsp", "train.steps=60", source="spoken-digits")
    test, labels = AUDIO_MOD.to_model(audio_data.tensor("test")[:16]), audio_data.labels("test")[:16]
    tr = Trainer(cfg, tmp_path, data=audio_data, progress=False, log=lambda s: None)

    def distance():
        with torch.no_grad():
            return float(spectral_loss(tr.model.reconstruct(test, labels), test, tr.model.cfg.scales))

    before = distance()
    tr.fit()
    assert distance() < 0.8 * before


def test_harmonic_to_noise_ratio_follows_the_noise_added_to_a_tone():
    t = np.arange(16000) / 16000
    tone = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 8))
    noise = np.random.default_rng(0).normal(0, tone.std(), len(t))
    db = harmonic_to_noise_db(np.stack([tone, tone + 0.1 * noise, tone + noise, noise]), 16000)
    assert db[0] > 25 and abs(db[1] - 20) < 2 and abs(db[2]) < 2 and db[3] < -5


def test_a_wavegan_on_the_synthesisers_controls_plays_the_pitch_asked_for_and_trains():
    from genforge.modalities.audio.wavegan import WaveGAN

    x, y = tones()
    cfg = resolve_config("wavegan", "notes", sets=list(WaveGAN.tiny))
    model = WaveGAN(cfg.model, (1, int(RATE * 0.5)), 5)
    model.fit_data(x, AUDIO_MOD.to_model, NAMES, y)  # the EMA generator, which samples, gets the pitches too
    opts = model.configure_optimizers(cfg.train)
    losses = model.train_step(AUDIO_MOD.to_model(x), y, opts)
    assert all(torch.isfinite(v) for v in losses.values())
    clips = model.decode(torch.randn(5, cfg.model.latent_dim), torch.arange(5)).detach()
    assert harmonic_share(clips, np.arange(60, 65)).min() > 0.9


def test_the_timbre_mixture_is_one_for_every_pitch():
    x, y = tones(per_class=12)
    model = tiny_model(prior="gmm")
    model.fit_data(x, AUDIO_MOD.to_model, NAMES, y)
    model.finish_training(x, y, AUDIO_MOD.to_model)
    assert model.gmm.weights.shape[0] == 1  # not a mixture a class: held-out pairs are timbres at new pitches
    draw = lambda label: model.prior(8, torch.Generator().manual_seed(0), torch.full((8,), label))  # noqa: E731
    assert torch.equal(draw(0), draw(3)) and not torch.equal(draw(0), model.prior(8, torch.Generator()))
