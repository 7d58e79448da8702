"""Proof that the figures mean something: `python -m genforge.evaluate.sanity --data digits`
(or `--data fortunes`, any source of any modality).

Feeds the metrics "samples" whose faults are known. Images: held-out real images
(the floor), real images blurred or noised at growing strength, real images from
half of the classes or from one class, and training images returned as samples.
Text: held-out lines (the floor), the same lines with their words shuffled,
random dictionary words of the same lengths, lines of one class only, one line
repeated, and training lines returned as samples. Audio: held-out clips (the floor), clips with
noise or low-pass filtering at growing strength, one class, time-reversed clips, training
clips returned as samples. A trustworthy metric orders
them as expected; tests assert these orders. The columns are every registered
metric of the data's modality that needs no model.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
import torch.nn.functional as F

from ..data import ImageData, to_float, to_uint8
from ..data.base import detect_modality
from ..data.textset import encode
from ..modalities import MODALITIES
from .evaluate import evaluate_samples, parse_metrics
from .features import get_extractor, modality_for
from .registry import METRICS


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of uint8 images [N, C, H, W] (separable, reflect padding)."""
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    y = F.pad(to_float(x), (r, r, r, r), mode="reflect")
    y = F.conv2d(y, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    y = F.conv2d(y, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return to_uint8(y)


def noise(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """Additive Gaussian noise of std `sigma` in [0, 1] pixel units."""
    g = torch.Generator().manual_seed(seed)
    return to_uint8(to_float(x) + 2 * sigma * torch.randn(x.shape, generator=g))


def image_conditions(data: ImageData, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """name -> uint8 'samples' [n', C, H, W] with a known fault."""
    g = torch.Generator().manual_seed(seed)
    test, train = data.tensor("test"), data.tensor("train")
    pick = lambda x, m: x[torch.randperm(len(x), generator=g)[: min(m, len(x))]]  # noqa: E731
    real = pick(test, n)
    out = {"real (floor)": real}
    for s in (0.5, 1.0, 2.0):
        out[f"blur sigma={s}"] = blur(real, s)
    for s in (0.05, 0.1, 0.2):
        out[f"noise sigma={s}"] = noise(real, s, seed)
    if data.test_labels is not None and data.n_classes >= 2:
        y = data.labels("test")
        half = data.n_classes // 2
        out[f"classes 0..{half - 1} only"] = pick(test[y < half], n)
        out["one class (0)"] = pick(test[y == 0], n)
    out["training images"] = pick(train, n)
    return out


def _retokenize(data, texts: list[str]) -> torch.Tensor:
    """Strings -> stored token ids of `data` (ones over max_tokens dropped)."""
    return torch.from_numpy(encode(data.codec, texts, data.train.shape[1] - 1)[0])


def text_conditions(data, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """name -> token-id 'samples' [n', L] with a known fault; words are characters in Chinese."""
    from .text_metrics import is_cjk, units

    rng = np.random.default_rng(seed)
    pick = lambda items, m: [items[i] for i in rng.permutation(len(items))[: min(m, len(items))]]  # noqa: E731
    real = pick(data.test_text, n)
    cjk = is_cjk(real)
    join = "".join if cjk else " ".join
    shuffled = [join(rng.permutation(units(t, cjk)).tolist()) for t in real]
    vocab = sorted({u for t in data.train_text for u in units(t, cjk)})
    random_words = [join(rng.choice(vocab, max(1, len(units(t, cjk)))).tolist()) for t in real]
    out = {"real (floor)": real, "shuffled words": shuffled, "random dictionary words": random_words}
    if data.test_labels is not None and data.n_classes >= 2:
        out["one class only"] = pick([t for t, y in zip(data.test_text, data.test_labels) if y == 0], n)
    out["one sentence repeated"] = [real[0]] * len(real)
    out["training lines"] = pick(data.train_text, n)
    return {k: _retokenize(data, v) for k, v in out.items()}


def audio_conditions(data, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """name -> int16 'samples' [n', 1, T] with a known fault: noise at falling SNR, low-pass filtering at
    falling cut-offs (an FFT brick wall), one class, time-reversed clips, training clips."""
    g = torch.Generator().manual_seed(seed)
    mod = MODALITIES.get("audio")
    test, train = data.tensor("test"), data.tensor("train")
    pick = lambda x, m: x[torch.randperm(len(x), generator=g)[: min(m, len(x))]]  # noqa: E731
    real = pick(test, n)
    x = mod.to_model(real)  # [n, 1, T] in [-1, 1]
    out = {"real (floor)": real}
    power = x.pow(2).mean(-1, keepdim=True)
    for snr in (20, 10, 0):
        hiss = torch.randn(x.shape, generator=g) * (power / 10 ** (snr / 10)).sqrt()
        out[f"noise SNR {snr} dB"] = mod.to_stored(x + hiss)
    spec = torch.fft.rfft(x)
    freqs = torch.fft.rfftfreq(x.shape[-1], 1 / data.sample_rate)
    for cut in (4000, 2000, 1000):
        out[f"low-pass {cut} Hz"] = mod.to_stored(torch.fft.irfft(spec * (freqs <= cut), n=x.shape[-1]))
    if data.test_labels is not None and data.n_classes >= 2:
        out["one class (0)"] = pick(test[data.labels("test") == 0], n)
    out["time-reversed"] = real.flip(-1)
    out["training clips"] = pick(train, n)
    return out


# conditions per modality: a new modality registers its own
CONDITIONS = {"image": image_conditions, "text": text_conditions, "audio": audio_conditions}


def conditions(data, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """name -> stored 'samples' with a known fault, for the data's modality."""
    return CONDITIONS[modality_for(data).name](data, n, seed)


def sanity_table(data, n: int = 5000, seed: int = 0, extractor_steps=None, log=print) -> dict[str, dict]:
    """{condition: {figure: value}} over `conditions`, for every metric of the modality that needs no
    model (likelihood figures) and no sample labels."""
    ext = get_extractor(data, steps=extractor_steps, log=log)
    names = [
        m for m in parse_metrics(None, modality_for(data).name) if not {"likelihood", "labels"} & METRICS.get(m).needs
    ]
    rows = {}
    for name, items in conditions(data, n, seed).items():
        res = evaluate_samples(
            items, data, ext, names, n_real=n, floors=False, draws=3, seed=seed, train_steps=extractor_steps
        )
        rows[name] = {k: v["value"] for k, v in res["metrics"].items()} | {"n": len(items)}
    return rows


def format_table(rows: dict[str, dict]) -> str:
    cols = list(dict.fromkeys(k for r in rows.values() for k in r if k != "n"))
    lines = ["| samples | n | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['n']} | " + " | ".join(f"{r[c]:.4g}" if c in r else "" for c in cols) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="digits")
    ap.add_argument("-n", type=int, default=5000, help="samples per condition (at most the test split)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    mod = MODALITIES.get(detect_modality(args.data))
    data = mod.load(mod.DataConfig(source=args.data))
    print(f"data {data.name} ({data.fingerprint}); reference: {min(args.n, len(data.train))} training {mod.unit}s")
    print(format_table(sanity_table(data, args.n, args.seed)))


if __name__ == "__main__":
    main()
