"""Audio training throughput, in one run on real spoken-digits clips (16,000 samples at 16 kHz, int16 as the
trainer holds them):

- `--family wavegan`: genforge's WaveGAN step (the `paper` preset) against a plain PyTorch WaveGAN written from
  the paper (its own networks, phase shuffle and WGAN-GP loop, 5 critic steps per generator step). One step is
  one critic update (and a generator update every fifth), in both loops.
- `--family specgan`: SpecGAN's `default` step with its pictures and weights channels-last (the default)
  against the same step in PyTorch's default (contiguous) layout.
- `--family ddsp`: the ddsp `default` step with its harmonic sum as one matrix product a clip (the family's)
  against the same step summing B x H x T sines of amplitudes upsampled to the sample rate (DDSP's way).

    python -m genforge.modalities.audio.bench [--family wavegan] [--width 1.0] [--repeats 3] [--seconds 20]
"""

from __future__ import annotations

import argparse
import math
import statistics

import torch
import torch.nn.functional as F
from torch import nn

from ...bench.throughput import Step, genforge_step, measure
from ...run import build_model, resolve_config
from .modality import AudioDataConfig
from .sources import load_audio

N_CRITIC, GP, BATCH = 5, 10.0, 64


class PlainG(nn.Module):
    """z [100] -> Dense 16*16d -> 5 x (ReLU, ConvT1d k25 s4) -> tanh: [1, 16384], cropped to 16,000."""

    def __init__(self, d: int):
        super().__init__()
        self.d = d
        self.fc = nn.Linear(100, 16 * 16 * d)
        ch = [16 * d, 8 * d, 4 * d, 2 * d, d, 1]
        self.ups = nn.ModuleList(nn.ConvTranspose1d(a, b, 25, 4, 11, output_padding=1) for a, b in zip(ch, ch[1:]))

    def forward(self, z):
        h = self.fc(z).view(-1, 16 * self.d, 16)
        for up in self.ups:
            h = up(F.relu(h))
        return torch.tanh(h)[..., :16000]


class PlainD(nn.Module):
    """[1, 16384] -> 5 x (Conv1d k25 s4, LeakyReLU 0.2, phase shuffle 2 but the last) -> Dense 1."""

    def __init__(self, d: int):
        super().__init__()
        ch = [1, d, 2 * d, 4 * d, 8 * d, 16 * d]
        self.convs = nn.ModuleList(nn.Conv1d(a, b, 25, 4, 12) for a, b in zip(ch, ch[1:]))
        self.fc = nn.Linear(16 * 16 * d, 1)

    @staticmethod
    def shuffle(h, n=2):
        k = int(torch.randint(-n, n + 1, ()))  # one shift per batch, as the paper's code does
        return F.pad(h, (n + k, n - k), mode="reflect")[..., n : n + h.shape[-1]] if k else h

    def forward(self, x):
        h = F.pad(x, (0, 16384 - x.shape[-1]))
        for i, conv in enumerate(self.convs):
            h = F.leaky_relu(conv(h), 0.2)
            if i < 4:
                h = self.shuffle(h)
        return self.fc(h.flatten(1))


def plain_wavegan_step(d: int) -> tuple[Step, int]:
    G, D = PlainG(d), PlainD(d)
    opt_g = torch.optim.Adam(G.parameters(), 1e-4, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), 1e-4, betas=(0.5, 0.9))
    count = [0]

    def step(x):
        real = x.float().div(32768.0)  # int16 -> [-1, 1)
        fake = G(torch.randn(len(x), 100)).detach()
        eps = torch.rand(len(x), 1, 1)
        mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(D(mix).sum(), mix, create_graph=True)
        loss_d = D(fake).mean() - D(real).mean() + GP * (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        count[0] += 1
        if count[0] % N_CRITIC == 0:
            loss_g = -D(G(torch.randn(len(x), 100))).mean()
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()

    return step, BATCH


def plain_harmonic(synth):
    """DDSP's harmonic sum for `synth`: amplitudes [B, H, frames] linear between frames up to the sample rate,
    times a sine per harmonic and sample, summed: [B, 1, T]."""

    def harmonic(amps, freqs):
        n = torch.arange(synth.length, dtype=amps.dtype, device=amps.device)  # [T]
        j = torch.div(n, synth.hop, rounding_mode="floor").long()  # each sample's frame
        nxt = torch.cat([amps[..., 1:], amps[..., -1:]], -1)
        up = amps[..., j] + (nxt[..., j] - amps[..., j]) * (n - j * synth.hop) / synth.hop  # [B, H, T]
        return (up * torch.sin(2 * math.pi * torch.frac(freqs[..., None] * n))).sum(1, keepdim=True)

    return harmonic


def ddsp_step(plain: bool) -> tuple[Step, int]:
    """The ddsp `default` step on ten pitch classes; `plain`: with DDSP's sum of sines in place of the family's."""
    cfg = resolve_config("ddsp", "default")
    model = build_model(cfg, (1, 16000), 10)
    synth = model.notes.synth
    if plain:
        synth.harmonic = plain_harmonic(synth)
    opts = model.configure_optimizers(cfg.train)

    def step(x):
        model.train_step(x.float().div(32768.0), torch.arange(len(x)) % 10, opts)

    return step, cfg.train.batch_size


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", choices=["wavegan", "specgan", "ddsp"], default="wavegan")
    ap.add_argument("--width", type=float, default=None, help="model width (default: wavegan 1.0, specgan's preset)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each timed window")
    args = ap.parse_args(argv)
    x = load_audio(AudioDataConfig()).tensor("train")  # int16 [N, 1, 16000]
    threads = torch.get_num_threads()
    if args.family == "wavegan":
        width = args.width or 1.0
        d = max(1, int(round(64 * width)))
        print(f"{len(x)} spoken-digits clips; WaveGAN d = {d}, batch {BATCH}, {threads} threads\n")
        rows = {
            "plain PyTorch WaveGAN (paper's step)": plain_wavegan_step(d),
            "genforge wavegan `paper`": genforge_step("wavegan", "paper", (f"model.width={width}",), (1, 16000)),
        }
    elif args.family == "ddsp":
        print(f"{len(x)} spoken-digits clips as ten pitch classes; ddsp `default`, {threads} threads\n")
        rows = {"ddsp `default`, a sine a harmonic and sample": ddsp_step(True), "ddsp `default`": ddsp_step(False)}
    else:
        sets = () if args.width is None else (f"model.width={args.width}",)
        print(f"{len(x)} spoken-digits clips; SpecGAN `default`, {threads} threads\n")
        rows = {
            "specgan `default`, contiguous layout": genforge_step(
                "specgan", "default", (*sets, "model.channels_last=false"), (1, 16000)
            ),
            "specgan `default`, channels-last": genforge_step("specgan", "default", sets, (1, 16000)),
        }
    print("| run | batch | clips/s min | median | max | vs first row |")
    print("|---|---|---|---|---|---|")
    ref = None
    for name, (step, batch) in rows.items():
        rates = measure(step, batch, x, args.repeats, args.seconds)
        med = statistics.median(rates)
        ref = ref or med
        print(f"| {name} | {batch} | {min(rates):.1f} | {med:.1f} | {max(rates):.1f} | {med / ref:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
