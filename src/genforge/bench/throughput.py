"""Training steps to time: the article's models as plain eager PyTorch loops (the
references, written the obvious way, with the levers as switches) and genforge's
own train step for every family and preset; a timer and a busy neighbour process."""

from __future__ import annotations

import multiprocessing as mp
import time
from contextlib import contextmanager, nullcontext
from typing import Callable, Optional

import torch
from torch import nn

from ..modalities import MODALITIES
from ..modalities.image.cyclegan import PatchDiscriminator, ResnetGenerator
from ..modalities.image.dataset import to_float
from ..models import FAMILIES
from ..run import build_model, resolve_config
from ..train.threads import ThreadTuner

SHAPE = (1, 28, 28)
Step = Callable[[torch.Tensor], None]


def article_dcgan_nets() -> tuple[nn.Module, nn.Module]:
    """The TF tutorial's generator and discriminator, translated line by line."""
    lrelu = nn.LeakyReLU(0.3)
    G = nn.Sequential(
        nn.Linear(100, 7 * 7 * 256, bias=False),
        nn.BatchNorm1d(7 * 7 * 256),
        lrelu,
        nn.Unflatten(1, (256, 7, 7)),
        nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False),
        nn.BatchNorm2d(128),
        lrelu,
        nn.ConvTranspose2d(128, 64, 5, 2, 2, 1, bias=False),
        nn.BatchNorm2d(64),
        lrelu,
        nn.ConvTranspose2d(64, 1, 5, 2, 2, 1, bias=False),
        nn.Tanh(),
    )
    D = nn.Sequential(
        nn.Conv2d(1, 64, 5, 2, 2),
        lrelu,
        nn.Dropout(0.3),
        nn.Conv2d(64, 128, 5, 2, 2),
        lrelu,
        nn.Dropout(0.3),
        nn.Flatten(),
        nn.Linear(128 * 7 * 7, 1),
    )
    return G, D


def plain_article_dcgan_step(
    channels_last: bool = False, bf16: bool = False, compile: bool = False, fused: bool = False
) -> tuple[Step, int]:
    """A step of the article's DCGAN without genforge (the reference), batch 256; the switches are levers."""
    G, D = article_dcgan_nets()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    G, D = G.to(memory_format=fmt), D.to(memory_format=fmt)
    adam = {"fused": True} if fused else {}
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-4, **adam), torch.optim.Adam(D.parameters(), 1e-4, **adam)
    bce = nn.BCEWithLogitsLoss()
    g_params, d_params = list(G.parameters()), list(D.parameters())

    def losses(x):
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext():
            fake = G(torch.randn(x.shape[0], 100))
            real_out, fake_out = D(x.contiguous(memory_format=fmt)), D(fake)
        real_out, fake_out = real_out.float(), fake_out.float()
        loss_g = bce(fake_out, torch.ones_like(fake_out))
        loss_d = bce(real_out, torch.ones_like(real_out)) + bce(fake_out, torch.zeros_like(fake_out))
        return loss_g, loss_d

    forward = torch.compile(losses) if compile else losses

    def step(x):
        loss_g, loss_d = forward(x)
        gg = torch.autograd.grad(loss_g, g_params, retain_graph=True)
        gd = torch.autograd.grad(loss_d, d_params)
        for p, g in zip(g_params + d_params, gg + gd):
            p.grad = g
        opt_g.step()
        opt_d.step()

    step.generator = G  # the time-to-quality benchmark samples from it
    return step, 256


def textbook_dcgan_nets(width: int = 64) -> tuple[nn.Module, nn.Module]:
    """The textbook DCGAN (Radford et al. 2016; the PyTorch tutorial's layout at ngf = ndf = 64) for 28 x 28:
    4x4 stride-2 transposed convolutions, BN + ReLU in G, BN + LeakyReLU 0.2 in D, N(0, 0.02) weights."""
    w = width
    G = nn.Sequential(  # z [B, 100, 1, 1] -> [B, 4w, 7, 7] -> [B, 2w, 14, 14] -> [B, 1, 28, 28]
        nn.ConvTranspose2d(100, 4 * w, 7, 1, 0, bias=False),
        nn.BatchNorm2d(4 * w),
        nn.ReLU(True),
        nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False),
        nn.BatchNorm2d(2 * w),
        nn.ReLU(True),
        nn.ConvTranspose2d(2 * w, 1, 4, 2, 1, bias=False),
        nn.Tanh(),
    )
    D = nn.Sequential(  # [B, 1, 28, 28] -> [B, w, 14, 14] -> [B, 2w, 7, 7] -> [B, 1]
        nn.Conv2d(1, w, 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False),
        nn.BatchNorm2d(2 * w),
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(2 * w, 1, 7, 1, 0, bias=False),
        nn.Flatten(),
    )
    for m in (*G.modules(), *D.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return G, D


def plain_gan_step(G: nn.Module, D: nn.Module, noise: Callable[[int], torch.Tensor], lr: float, betas, to_model=None):
    """A GAN step as a user writes it from the tutorials: two Adams, BCE on logits; D on real and detached fakes,
    then G on the same fakes through the updated D. `noise(b)` draws G's input for a batch of b; `to_model` turns
    the stored batch into D's input (default: as it is)."""
    opt_g = torch.optim.Adam(G.parameters(), lr, betas=tuple(betas))
    opt_d = torch.optim.Adam(D.parameters(), lr, betas=tuple(betas))
    bce = nn.BCEWithLogitsLoss()

    def step(x):
        real = x if to_model is None else to_model(x)
        fake = G(noise(real.shape[0]))
        real_out, fake_out = D(real), D(fake.detach())
        loss_d = bce(real_out, torch.ones_like(real_out)) + bce(fake_out, torch.zeros_like(fake_out))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        out = D(fake)
        loss_g = bce(out, torch.ones_like(out))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

    return step


def textbook_dcgan_step() -> tuple[Step, int]:
    """A step of the textbook DCGAN recipe as a user writes it from the tutorial: Adam 2e-4, betas (0.5, 0.999),
    batch 128, BCE; D on real and detached fakes, then G on the same fakes through the updated D."""
    G, D = textbook_dcgan_nets()
    step = plain_gan_step(G, D, lambda b: torch.randn(b, 100, 1, 1), 2e-4, (0.5, 0.999))
    step.generator = nn.Sequential(nn.Unflatten(1, (100, 1, 1)), G)  # z [B, 100] in, as the article's
    return step, 128


def genforge_step(family: str, preset: str, sets: tuple[str, ...] = (), shape: tuple = SHAPE) -> tuple[Step, int]:
    """genforge's own train step of a family and preset on items of model shape `shape` (stored batches,
    converted by the family's modality as the trainer does); a model that needs labels gets them in turn:
    10 classes, or 2 domains for a translation model."""
    cfg = resolve_config(family, preset, sets=list(sets))
    fam = FAMILIES.get(family)
    translates = "translate" in fam.abilities
    n_classes = 2 if translates else 10 if getattr(cfg.model, "conditional", False) else 0
    model = build_model(cfg, shape, n_classes)
    opts = model.configure_optimizers(cfg.train)
    bf16 = cfg.train.precision == "bf16"
    to_model = MODALITIES.get(fam.modality).to_model

    def step(x):
        y = torch.arange(len(x)) % n_classes if n_classes else None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model.train_step(to_model(x), y, opts)

    return step, cfg.train.batch_size


def plain_cyclegan_step() -> tuple[Step, int]:
    """A step of CycleGAN as its reference code writes it, with the networks of genforge's `default` preset:
    each generator call on its own (translations, cycles, identities), the discriminators frozen for the
    generators' step, then each discriminator on real and fake batches separately; no history pool.
    Batches of 8: the first half domain A, the second B."""
    cfg = resolve_config("cyclegan", "default").model
    G_AB, G_BA, D_A, D_B = (
        ResnetGenerator(cfg, SHAPE),
        ResnetGenerator(cfg, SHAPE),
        *(PatchDiscriminator(cfg, SHAPE) for _ in range(2)),
    )
    opt_g = torch.optim.Adam([*G_AB.parameters(), *G_BA.parameters()], 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam([*D_A.parameters(), *D_B.parameters()], 2e-4, betas=(0.5, 0.999))
    mse, l1 = nn.MSELoss(), nn.L1Loss()

    def step(x):
        x = to_float(x)
        a, b = x[: len(x) // 2], x[len(x) // 2 :]
        fake_b, fake_a = G_AB(a), G_BA(b)
        rec_a, rec_b = G_BA(fake_b), G_AB(fake_a)
        idt_a, idt_b = G_BA(a), G_AB(b)
        for d in (D_A, D_B):
            d.requires_grad_(False)
        out_b, out_a = D_B(fake_b), D_A(fake_a)
        loss_g = mse(out_b, torch.ones_like(out_b)) + mse(out_a, torch.ones_like(out_a))
        loss_g = loss_g + 10 * (l1(rec_a, a) + l1(rec_b, b)) + 5 * (l1(idt_a, a) + l1(idt_b, b))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        for d in (D_A, D_B):
            d.requires_grad_(True)
        loss_d = 0.0
        for D, real, fake in ((D_B, b, fake_b), (D_A, a, fake_a)):
            r, f = D(real), D(fake.detach())
            loss_d = loss_d + 0.5 * (mse(r, torch.ones_like(r)) + mse(f, torch.zeros_like(f)))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

    return step, 8


def measure(
    step: Step, batch: int, data: torch.Tensor, repeats: int, seconds: float, tuner: Optional[ThreadTuner] = None
) -> list[float]:
    """images/s of `repeats` timed windows of about `seconds` each, after one warm-up window.
    With a tuner, it picks the thread count before every step, as in the trainer."""
    rates, i = [], 0
    for r in range(repeats + 1):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            if tuner is not None:
                tuner.tick()
            idx = torch.arange(i, i + batch) % len(data)
            step(data[idx])
            i, n = i + batch, n + 1
        if r:  # the first window is warm-up
            rates.append(n * batch / (time.perf_counter() - t0))
    return rates


def _spin() -> None:
    while True:
        pass


@contextmanager
def busy_neighbour():
    """Another process busy on one core for the duration (what a shared machine looks like)."""
    proc = mp.get_context("spawn").Process(target=_spin, daemon=True)
    proc.start()
    try:
        time.sleep(0.5)
        yield
    finally:
        proc.terminate()
        proc.join()
