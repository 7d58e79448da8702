"""Text and melody training throughput: genforge's text (music) families against a plain PyTorch loop of
the same sentence VAE (MusicVAE is one over events), written the obvious way (padded batch, softmax at every
position), in one run, at the sizes of the modality's VAE `default`.

Throughput depends on sentence lengths (genforge skips padding), so the batches are real
token sequences: the fortunes when installed, else a stand-in with their length spread; the melodies of a
music source (all of one length).
"""

from __future__ import annotations

import statistics

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DataError
from ..modalities import MODALITIES
from ..modalities.music.modality import MusicDataConfig
from ..modalities.music.musicset import load_music
from ..modalities.text.modality import TextDataConfig
from ..modalities.text.textset import BOS, PAD, load_text
from ..models import FAMILIES
from ..run import build_model, resolve_config
from .throughput import Step, measure

VAE = {"text": "text-vae", "music": "music-vae"}  # whose `default` sizes the plain loop takes


def token_data(source: str = "fortunes", modality: str = "text") -> tuple[torch.Tensor, int]:
    """(stored token ids [N, L], vocabulary) of `source`; without text, random ids with lengths 5..48."""
    if modality == "music":
        data = load_music(MusicDataConfig(source=source))
        return data.tensor("train"), data.vocab_size
    try:
        data = load_text(TextDataConfig(source=source))
        return data.tensor("train"), data.vocab_size
    except DataError:
        g = torch.Generator().manual_seed(0)
        x = torch.randint(4, 4000, (8192, 49), generator=g)
        lengths = torch.randint(5, 49, (8192,), generator=g)
        x[torch.arange(49)[None] >= lengths[:, None]] = PAD
        x[torch.arange(8192), lengths] = 3  # EOS
        return x, 4000


class PlainSentenceVAE(nn.Module):
    """Bowman et al.'s sentence VAE as a reader would write it from the paper."""

    def __init__(self, vocab: int, embed: int, hidden: int, latent: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, padding_idx=PAD)
        self.enc = nn.GRU(embed, hidden, batch_first=True)
        self.mu, self.logvar = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.dec = nn.GRU(embed + latent, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def loss(self, x):
        lengths = (x != PAD).sum(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(x), lengths, batch_first=True, enforce_sorted=False)
        h = self.enc(packed)[1][0]
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        inp = torch.cat([torch.full_like(x[:, :1], BOS), x[:, :-1]], 1)
        e = torch.cat([self.embed(inp), z[:, None].expand(-1, x.shape[1], -1)], 2)
        logits = self.out(self.dec(e)[0])  # every position, padding included
        recon = F.cross_entropy(logits.transpose(1, 2), x, ignore_index=PAD, reduction="sum") / len(x)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
        return recon + kl


def plain_sentence_vae_step(vocab: int, modality: str = "text") -> tuple[Step, int]:
    """A step of the plain loop at the sizes and batch of the modality's VAE `default` preset."""
    cfg = resolve_config(VAE[modality], "default")
    m = cfg.model
    model = PlainSentenceVAE(vocab, m.embed, m.hidden, m.latent_dim)
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    def step(x):
        opt.zero_grad()
        model.loss(x).backward()
        opt.step()

    return step, cfg.train.batch_size


def genforge_text_step(family: str, preset: str, shape, sets: tuple[str, ...] = ()) -> tuple[Step, int]:
    cfg = resolve_config(family, preset, sets=sets)
    model = build_model(cfg, shape)
    opts = model.configure_optimizers(cfg.train)
    return (lambda x: model.train_step(x, None, opts)), cfg.train.batch_size


def tokens_per_item(x: torch.Tensor) -> float:
    """Predicted positions (pieces + EOS) per stored sentence, on average."""
    return float((x != PAD).sum(1).float().mean())


def text_table(source: str, repeats: int, seconds: float, modality: str = "text") -> dict[str, float]:
    """Print items/s and tokens/s (min / median / max) of the plain loop and genforge's families of the
    modality (text or music)."""
    x, vocab = token_data(source, modality)
    per = tokens_per_item(x)
    unit = MODALITIES.get(modality).units
    print(f"{len(x)} {unit} of {source}, {per:.1f} tokens each on average, vocabulary {vocab}\n")
    print(f"| run | batch | {unit}/s min | median | max | tokens/s (median) | vs plain loop |")
    print("|---|---|---|---|---|---|---|")
    rows = {"plain PyTorch sentence VAE (padded softmax)": plain_sentence_vae_step(vocab, modality)}
    for family in [f for f in FAMILIES.names() if FAMILIES.get(f).modality == modality]:
        for preset in FAMILIES.get(family).presets:
            rows[f"genforge {family} `{preset}`"] = genforge_text_step(family, preset, (vocab, x.shape[1]))
    adaptive = ("model.adaptive_softmax=true",)  # the output layer's share of a step, measured
    rows[f"genforge {VAE[modality]} `default`, {adaptive[0]}"] = genforge_text_step(
        VAE[modality], "default", (vocab, x.shape[1]), adaptive
    )
    medians, ref = {}, None
    for name, (step, batch) in rows.items():
        rates = measure(step, batch, x, repeats, seconds)
        med = statistics.median(rates)
        ref = ref or med
        medians[name] = med
        print(
            f"| {name} | {batch} | {min(rates):.0f} | {med:.0f} | {max(rates):.0f} | {med * per:.0f} | "
            f"{med / ref:.2f}x |",
            flush=True,
        )
    return medians
