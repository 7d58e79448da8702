"""Where a VAE's samples lose: its samples from N(0, I), its reconstructions of held-out images, and its
samples from Gaussian mixtures of K components fitted to its training codes (posterior draws), scored the same way.

    python -m genforge.bench.vae_prior RUN [RUN ...] [-n 10000] [--components 10 40]

FID, precision, recall and coverage in the data's own feature space (the evaluation extractor), n samples
against n training images. Reconstructions bound what any sampling prior can reach with this decoder; the
gap between N(0, I) and the mixtures is what the prior costs (holes of the aggregate posterior).
"""

from __future__ import annotations

import argparse

import torch

from ..evaluate import evaluate_samples, get_extractor
from ..modalities import modality_of
from ..modalities.image.dataset import to_float, to_uint8
from ..models.latent_prior import GaussianMixturePrior, posterior_draws
from ..run import load

FIGURES = ("fid", "precision", "recall", "coverage")


def prior_table(run: str, n: int, components: list[int]) -> list[tuple[str, dict]]:
    """(row name, figures) for N(0, I) samples, reconstructions and each mixture's samples of one VAE run."""
    model = load(run).eval()
    data = modality_of(model).load(model.run_config.data)
    ext = get_extractor(data, log=lambda s: None)  # may train the extractor: not under no_grad
    with torch.no_grad():
        rows = _rows(model, data, n, components)
    out = []
    for name, images in rows:
        m = evaluate_samples(images, data, ext, ("fid", "prdc"), n_real=n, floors=False, draws=3)["metrics"]
        out.append((name, {k: m[k]["value"] for k in FIGURES}))
    return out


def _rows(model, data, n: int, components: list[int]) -> list[tuple[str, torch.Tensor]]:
    """(row name, uint8 images): N(0, I) samples, reconstructions, each mixture's samples."""

    def decode(z: torch.Tensor) -> torch.Tensor:
        return to_uint8(torch.cat([model.decode(c) for c in z.split(1000)]))

    train, test = data.tensor("train"), data.tensor("test")[:n]
    codes, _, draws = posterior_draws(model, train, None, to_float)  # the codes a run's own mixture is fitted to
    recon = torch.cat([model.reconstruct(to_float(c)) for c in test.split(1000)])
    rows = [
        ("N(0, I) samples", decode(torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(1)))),
        ("reconstructions of held-out images", to_uint8(recon)),
    ]
    for k in components:
        gmm = GaussianMixturePrior(k, model.latent_dim)
        gmm.fit(codes, draws=draws)
        z = gmm.sample(n, torch.Generator().manual_seed(1))
        rows.append((f"mixture of {k} fitted to the training codes", decode(z)))
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="unconditional VAE run directories")
    ap.add_argument("-n", type=int, default=10_000, help="samples (and training images) per figure")
    ap.add_argument("--components", type=int, nargs="+", default=[10, 40])
    args = ap.parse_args(argv)
    print("| run | samples | " + " | ".join(FIGURES) + " |\n|---" * 1 + "|---" * (len(FIGURES) + 1) + "|")
    for run in args.runs:
        for name, figs in prior_table(run, args.n, args.components):
            print(f"| {run} | {name} | " + " | ".join(f"{figs[k]:.3g}" for k in FIGURES) + " |", flush=True)


if __name__ == "__main__":
    main()
