"""Signal processing for audio, on torch and scipy only (torchaudio has no build for this torch).

Waveforms are float in [-1, 1], shaped [B, 1, T] for models and [N, T] in arrays.
Spectrograms use a periodic Hann window; `square_magnitude` is the S x S picture SpecGAN's families see.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
from PIL import Image

from ...io import png_bytes

EPS = 1e-5  # floor of magnitudes before the log: -100 dB


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """[..., T] at rate_in -> [..., T'] at rate_out with scipy's polyphase filter (exact rational ratio)."""
    if rate_in == rate_out:
        return x
    # deferred: scipy.signal is slow to import; only resampling needs it
    from scipy.signal import resample_poly

    g = math.gcd(int(rate_in), int(rate_out))
    return resample_poly(x, rate_out // g, rate_in // g, axis=-1).astype(np.float32)


def fit_length(x: np.ndarray, length: int) -> np.ndarray:
    """Crop or zero-pad the end of [T] to `length` samples."""
    return x[:length] if len(x) >= length else np.pad(x, (0, length - len(x)))


def trim_leading_silence(x: np.ndarray, rate: int, below_db: float = -40.0) -> np.ndarray:
    """Drop what comes before the first 10 ms frame louder than `below_db` relative to the clip's peak."""
    peak = float(np.abs(x).max()) if len(x) else 0.0
    if peak == 0.0:
        return x
    hop = max(1, rate // 100)
    n = len(x) // hop
    if n == 0:
        return x
    frames = x[: n * hop].reshape(n, hop)
    rms = np.sqrt((frames**2).mean(1))
    loud = np.nonzero(rms > peak * 10 ** (below_db / 20))[0]
    return x[loud[0] * hop :] if len(loud) else x


def rms_dbfs(x: np.ndarray) -> np.ndarray:
    """Loudness of each clip [N, T] as RMS in dB relative to full scale."""
    return 20 * np.log10(np.sqrt((x.astype(np.float64) ** 2).mean(-1)) + 1e-10)


def wav_bytes(x: np.ndarray, rate: int) -> bytes:
    """A 16-bit PCM WAV file of a mono clip [T] in [-1, 1]."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1, 1).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def read_audio(source, rate: int) -> tuple[np.ndarray, int]:
    """(mono float32 [T] at `rate`, the file's own rate) of a path or file object soundfile reads;
    channels are averaged. Raises soundfile.LibsndfileError (a RuntimeError) or ValueError."""
    x, sr = sf.read(source, dtype="float32", always_2d=True)
    return resample(x.mean(1), sr, rate), sr


def stft(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """[B, 1, T] -> complex [B, n_fft // 2 + 1, frames] (centred frames, reflect padding)."""
    win = torch.hann_window(n_fft, device=x.device)
    return torch.stft(x.flatten(0, 1), n_fft, hop, window=win, center=True, return_complex=True)


def square_hop(length: int, side: int) -> int:
    """The hop that gives a clip of `length` samples `side` frames: side * hop >= length."""
    return math.ceil(length / side)


def square_magnitude(x: torch.Tensor, side: int, hop: int) -> torch.Tensor:
    """[B, 1, T] -> |STFT| [B, 1, side bins, side frames]: n_fft 2 * side, the clip zero-padded to side * hop
    samples; the Nyquist bin and the last centred frame are dropped."""
    return stft(pad_to(x, side * hop), 2 * side, hop).abs()[:, None, :side, :side]


@lru_cache(maxsize=8)
def _mel_weights(n_fft: int, n_mels: int, rate: int, fmin: float) -> np.ndarray:
    """Triangular filters on the HTK mel scale, [n_mels, n_fft // 2 + 1], each of unit peak."""
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    edges = hz(np.linspace(mel(fmin), mel(rate / 2), n_mels + 2))
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up, down = (freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)
    return np.maximum(0, np.minimum(up, down)).astype(np.float32)


def mel_filterbank(n_fft: int, n_mels: int, rate: int, fmin: float = 20.0) -> torch.Tensor:
    """Triangular filters on the HTK mel scale, [n_mels, n_fft // 2 + 1], each of unit peak."""
    return torch.from_numpy(_mel_weights(n_fft, n_mels, rate, fmin))


def log_mel(x: torch.Tensor, rate: int, n_mels: int = 64, n_fft: int = 512, hop: int = 256) -> torch.Tensor:
    """[B, 1, T] -> log mel power [B, 1, n_mels, frames]."""
    power = torch.view_as_real(stft(x, n_fft, hop)).pow(2).sum(-1)  # |STFT|^2 [B, F, frames], no square root
    fb = mel_filterbank(n_fft, n_mels, rate).to(x.device)
    return torch.log(fb @ power + EPS).unsqueeze(1)


def _dft_bases(n_fft: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Windowed real DFT bases as conv weights: forward [2F, 1, n_fft] (cos; -sin) and inverse [2F, 1, n_fft]
    (one-sided: the bins between DC and Nyquist count twice), F = n_fft // 2 + 1. Built at every call (cheap):
    a cached tensor would leak from an export's tracing into later eager calls."""
    win = torch.hann_window(n_fft, dtype=torch.float64)
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
    angle = 2 * math.pi * k * torch.arange(n_fft, dtype=torch.float64)[None] / n_fft  # [F, n_fft]
    fwd = torch.cat([torch.cos(angle), -torch.sin(angle)]) * win
    weight = torch.full((n_fft // 2 + 1, 1), 2.0, dtype=torch.float64)
    weight[0] = weight[-1] = 1.0
    inv = torch.cat([torch.cos(angle) * weight, -torch.sin(angle) * weight]) * win / n_fft
    return fwd.float().unsqueeze(1), inv.float().unsqueeze(1)


def _stft_real(x: torch.Tensor, fwd: torch.Tensor, hop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """torch.stft (centred, reflect padding, Hann) as one real convolution with the forward bases `fwd`:
    [B, 1, T] -> (re, im), each [B, F, frames]. Real-valued ops only, so ONNX can export what uses it."""
    pad = fwd.shape[-1] // 2
    return F.conv1d(F.pad(x, (pad, pad), mode="reflect"), fwd, stride=hop).chunk(2, 1)


def _envelope(n_fft: int, hop: int, frames: int, device) -> torch.Tensor:
    """The sum of the squared Hann windows of `frames` frames `hop` apart, [1, 1, samples] (floored at 1e-8)."""
    win2 = torch.hann_window(n_fft, device=device).pow(2).view(1, 1, -1)
    return F.conv_transpose1d(torch.ones(1, 1, frames, device=device), win2, stride=hop).clamp_min(1e-8)


def _istft_real(re: torch.Tensor, im: torch.Tensor, inv: torch.Tensor, envelope: torch.Tensor, hop: int, length: int):
    """The inverse of `_stft_real` by weighted overlap-add with the inverse bases `inv`, divided by the summed
    squared windows `envelope`: (re, im) [B, F, frames] -> [B, 1, length]."""
    frames = F.conv_transpose1d(torch.cat([re, im], 1), inv, stride=hop)  # [B, 1, samples]
    pad = inv.shape[-1] // 2
    return (frames / envelope)[..., pad : pad + length]


def istft(re: torch.Tensor, im: torch.Tensor, n_fft: int, hop: int, length: int) -> torch.Tensor:
    """torch.istft of centred Hann frames, (re, im) [B, n_fft // 2 + 1, frames >= length // hop + 1] ->
    [B, 1, length], in real convolutions only (an exported generator includes it)."""
    _, inv = _dft_bases(n_fft)
    envelope = _envelope(n_fft, hop, re.shape[-1], re.device)
    return _istft_real(re, im, inv.to(re.device), envelope, hop, length)


def griffin_lim(mag: torch.Tensor, n_fft: int, hop: int, length: int, iters: int = 32) -> torch.Tensor:
    """Magnitudes [B, n_fft // 2 + 1, frames] -> waveforms [B, 1, length] (Griffin & Lim 1984, with the
    momentum 0.99 of Perraudin et al. 2013, as librosa and torchaudio use). Phases start random, as in
    librosa, but from a fixed seed, so the result is deterministic (zero phases turn flat spectra into click
    trains whose near-empty bins make the iterations ill-conditioned). Written with real convolutions only:
    an exported generator includes it."""
    fwd, inv = (b.to(mag.device) for b in _dft_bases(n_fft))  # built once a call, used 2 * iters + 1 times
    envelope = _envelope(n_fft, hop, mag.shape[-1], mag.device)
    phase = np.random.default_rng(0).uniform(0, 2 * np.pi, mag.shape[-2:]).astype(np.float32)
    phase = torch.from_numpy(phase).to(mag.device)  # [F, frames], the same for every clip
    re, im = mag * torch.cos(phase), mag * torch.sin(phase)
    prev_re, prev_im = torch.zeros_like(mag), torch.zeros_like(mag)
    for _ in range(iters):
        y = _istft_real(re, im, inv, envelope, hop, length)
        new_re, new_im = _stft_real(y, fwd, hop)
        a_re, a_im = new_re - 0.99 * prev_re, new_im - 0.99 * prev_im
        prev_re, prev_im = new_re, new_im
        scale = mag / (torch.sqrt(a_re**2 + a_im**2) + 1e-8)
        re, im = a_re * scale, a_im * scale
    return _istft_real(re, im, inv, envelope, hop, length).clamp(-1, 1)


def spectrogram_png(x: np.ndarray, rate: int, height: int = 64, width: int = 96) -> bytes:
    """A small log-mel picture of a clip [T] (low frequencies at the bottom; 36 dB of range shown)."""
    # deferred: matplotlib is slow to import; only figures need it
    from matplotlib import colormaps

    mel = log_mel(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).view(1, 1, -1), rate)[0, 0].numpy()
    top = mel.max()
    shade = np.clip((mel - (top - 8.3)) / 8.3, 0, 1)[::-1]  # 8.3 nepers of power = 36 dB
    rgb = (colormaps["magma"](shade)[..., :3] * 255).astype(np.uint8)
    return png_bytes(Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR))


def pad_to(x: torch.Tensor, length: int) -> torch.Tensor:
    """[B, C, T] -> [B, C, length], cropping or zero-padding the end."""
    t = x.shape[-1]
    return x[..., :length] if t >= length else F.pad(x, (0, length - t))


PITCH_FRAME = 2048  # samples of the frame a clip's pitch is read from


def loudest_frames(clips: np.ndarray, w: int = PITCH_FRAME) -> np.ndarray:
    """Clips [N, T] -> [N, 2w] float64: from the start of each clip's loudest w-sample frame (w / 4 apart),
    2w samples (zero-padded), so lags up to w compare w samples with w samples."""
    x = np.asarray(clips, np.float64).reshape(len(clips), -1)
    if x.shape[1] < 2 * w:
        x = np.pad(x, ((0, 0), (0, 2 * w - x.shape[1])))
    starts = np.arange(0, x.shape[1] - 2 * w + 1, w // 4)
    energy = np.stack([(x[:, s : s + w] ** 2).sum(1) for s in starts], 1)  # [N, frames]
    return np.stack([x[i, s : s + 2 * w] for i, s in enumerate(starts[energy.argmax(1)])])


def pitch_hz(clips: np.ndarray, rate: int, fmin: float = 40.0, fmax: float = 2000.0, threshold: float = 0.15):
    """YIN (de Cheveigne & Kawahara 2002) on the loudest 2,048-sample frame of each clip [N, T] -> the
    fundamental in Hz [N] (NaN where the frame is silent). The difference function comes from FFT
    autocorrelations; the first lag whose cumulative-mean-normalised difference dips under `threshold`
    (else the smallest) is refined by parabolic interpolation."""
    w = PITCH_FRAME
    frames = loudest_frames(clips, w)  # [N, 2w]: lags up to w
    lag_max = min(w - 1, int(rate / fmin))
    lag_min = max(2, int(rate / fmax))
    n_fft = 1 << int(np.ceil(np.log2(3 * w)))
    spec = np.fft.rfft(frames, n_fft)
    head = np.fft.rfft(frames[:, :w], n_fft)
    r = np.fft.irfft(spec * np.conj(head), n_fft)[:, : lag_max + 1]  # sum_t x[t] x[t + lag], t < w
    sq = np.cumsum(np.pad(frames**2, ((0, 0), (1, 0))), 1)
    lags = np.arange(lag_max + 1)
    d = sq[:, w : w + 1] + (sq[:, lags + w] - sq[:, lags]) - 2 * r  # sum_t (x[t] - x[t + lag])^2
    cmnd = d[:, 1:] * np.arange(1, lag_max + 1) / np.maximum(np.cumsum(d[:, 1:], 1), 1e-12)  # lags 1..
    out = np.full(len(frames), np.nan)
    for i, c in enumerate(cmnd):
        if sq[i, w] < 1e-6:  # a silent frame has no pitch
            continue
        c = c[lag_min - 1 :]
        below = np.nonzero(c < threshold)[0]
        k = below[0] if len(below) else int(c.argmin())
        while k + 1 < len(c) and c[k + 1] < c[k]:  # down to the bottom of the dip
            k += 1
        a, b, e = c[max(k - 1, 0)], c[k], c[min(k + 1, len(c) - 1)]
        shift = 0.5 * (a - e) / (a - 2 * b + e) if (a - 2 * b + e) > 0 else 0.0
        out[i] = rate / (k + lag_min + shift)
    return out


def hz_to_midi(hz: np.ndarray) -> np.ndarray:
    """Frequency in Hz -> MIDI pitch (A4 = 440 Hz = 69), fractional."""
    return 69 + 12 * np.log2(np.asarray(hz, np.float64) / 440.0)
