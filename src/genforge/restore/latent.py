"""Restoration by latent optimisation: find the latent whose generated image agrees with what is known,
with any trained generator or VAE decoder, no new training.

Inpainting follows Yeh et al. 2017 (semantic inpainting with deep generative models): a context loss on
the known pixels, a prior loss (the latent's log-density under N(0, I), and for GANs the discriminator's
verdict), several restarts with the best kept, the known pixels pasted back and the seam blended.
Super-resolution is the same search against the downscaling operator (PULSE, Menon et al. 2020), then a
back-projection that makes the result downscale exactly to the observation.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..modalities import modality_of
from ..models import Family
from ..progress import Progress
from .masks import Degradation


def start_latents(model: Family, rough: torch.Tensor, labels, restarts: int, gen: torch.Generator) -> torch.Tensor:
    """Initial latents [N * restarts, D]: prior draws; for a family that can encode, the first restart of each
    image starts at the posterior mean of its rough guess."""
    n = len(rough)
    z = model.prior(n * restarts, gen).view(n, restarts, -1)
    if "reconstruct" in model.abilities:
        with torch.no_grad():
            z[:, 0] = model.encode(rough, labels)[0]
    return z.flatten(0, 1)


def blend_seam(x: torch.Tensor, observed: torch.Tensor, known: torch.Tensor, iters: int = 60) -> torch.Tensor:
    """Paste the known pixels back; spread their mismatch with the generated image smoothly into the hole
    (Jacobi iterations of Laplace's equation, a cheap Poisson blend), so no seam shows at the border."""
    diff = (observed - x) * known
    kernel = torch.full((x.shape[1], 1, 3, 3), 1.0 / 9.0, device=x.device, dtype=x.dtype)
    for _ in range(iters):
        smooth = F.conv2d(F.pad(diff, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])
        weight = F.conv2d(F.pad(known, (1, 1, 1, 1), mode="replicate"), kernel[:1])
        diff = known * diff + (1 - known) * torch.where(weight > 0, smooth, diff)
    return (known * observed + (1 - known) * (x + diff)).clamp(-1, 1)


def restore(
    model: Family,
    observed: torch.Tensor,
    degradation: Degradation,
    labels: Optional[torch.Tensor] = None,
    steps: int = 300,
    restarts: int = 8,
    lr: float = 0.05,
    prior_weight: float = 0.002,
    critic_weight: float = 0.001,
    seed: int = 0,
    batch_size: int = 64,
    progress: bool = False,
) -> torch.Tensor:
    """Restored images [N, C, H, W] (model form, [-1, 1]) of observations in model form: masked images
    (inpainting) or low-resolution images [N, C, H/s, W/s] (super-resolution). `progress` shows the
    search's steps over all batches (a bar on a terminal, lines in a log)."""
    check_restorable(model)
    if model.conditional and labels is None:
        raise ConfigError(f"{model.name} is conditional: give the images' class (--class)")
    batches = list(_batches(observed, degradation, labels, batch_size))
    with Progress(steps * len(batches), f"restoring {len(observed)} image(s)", enabled=progress) as bar:
        out = [
            _restore_batch(model, obs, part, lab, steps, restarts, lr, prior_weight, critic_weight, seed + i, bar)
            for i, (obs, part, lab) in enumerate(batches)
        ]
    return torch.cat(out)


def check_restorable(model: Family) -> None:
    """Refuse, by name, a model of a modality that restoration does not serve (it works on images)."""
    if not modality_of(model).restorable:
        raise ConfigError(f"restoration works on images; {model.name} is a {model.modality} model")
    if "paired" not in model.abilities and not model.latent_dim:
        raise ConfigError(
            f"{model.name} has no latent space to search and was not trained to restore: restore with an image "
            "GAN or VAE, or a pix2pix model trained for the damage"
        )


def _batches(observed, degradation: Degradation, labels, size: int):
    for i in range(0, len(observed), size):
        known = None if degradation.known is None else degradation.known[i : i + size]
        yield (
            observed[i : i + size],
            Degradation(known, degradation.scale),
            None if labels is None else labels[i : i + size],
        )


def _restore_batch(model, observed, degradation, labels, steps, restarts, lr, prior_weight, critic_weight, seed, bar):
    device = model.device
    observed = observed.to(device)
    degradation = Degradation(None if degradation.known is None else degradation.known.to(device), degradation.scale)
    n = len(observed)
    gen = torch.Generator().manual_seed(seed)
    rough = degradation.rough(observed)
    was_training, grads = model.training, [p.requires_grad for p in model.parameters()]
    model.eval().requires_grad_(False)  # only the latents move
    try:
        z = start_latents(model, rough, labels, restarts, gen).requires_grad_(True)
        many = degradation.repeat(restarts)
        obs_r = observed.repeat_interleave(restarts, 0)
        lab_r = None if labels is None else labels.repeat_interleave(restarts, 0)
        opt = torch.optim.Adam([z], lr=lr)
        use_critic = "critic" in model.abilities and critic_weight > 0
        for _ in range(steps):
            x = model.decode(z, lab_r)
            loss = many.misfit(x, obs_r) + prior_weight * 0.5 * z.pow(2).mean(1)
            if use_critic:  # Yeh et al.'s perceptual loss: the discriminator should take the result for real
                loss = loss + critic_weight * F.softplus(-model.critic(x, lab_r))
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            bar.update()
        with torch.no_grad():
            x = model.decode(z, lab_r)
            best = many.misfit(x, obs_r).view(n, restarts).argmin(1)  # the restart that fits the known best
            x = x.view(n, restarts, *x.shape[1:])[torch.arange(n, device=device), best]
            if degradation.scale > 1:  # back-projection: the result downscales exactly to the observation
                x = (x + degradation.rough(observed - degradation.observe(x))).clamp(-1, 1)
            else:
                x = blend_seam(x, observed, degradation.known)
    finally:
        model.train(was_training)
        for p, g in zip(model.parameters(), grads):
            p.requires_grad_(g)
    return x.cpu()
