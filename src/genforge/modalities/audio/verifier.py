"""A speaker verifier trained on the data's own training speakers (no download): does a clip sound like a voice?

An x-vector-like network (Snyder et al. 2018) at CPU size:

    clip [B, 1, T] -> log mel [B, 64 mels, frames] (minus its mean over frames: the channel, not the voice)
      -> 3 TDNN layers (Conv1d k 5, dilations 1, 2, 3; ReLU; batch norm) [B, C, frames']
      -> statistics pooling (mean and std over frames) [B, 2C] -> Linear -> the embedding [B, E]
      -> ReLU -> Linear -> the training speakers' logits (cross-entropy)

Clips are compared by the cosine of their embeddings less the training clips' mean embedding (the mean
normalisation of x-vector scoring: without it every pair shares one large common direction). Its own equal
error rate on pairs of held-out clips (speakers it never heard) is the floor every voice figure is read against.
Trained once a data set (by its fingerprint) and cached under $GENFORGE_CACHE/audio.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from .dsp import log_mel
from .sources import cache_root

MELS, WIDTH, EMBED = 64, 128, 128
STEPS, BATCH, LR = 1500, 64, 1e-3


class Verifier(nn.Module):
    """Clips [B, 1, T] in [-1, 1] -> speaker embeddings [B, E] (L2-normalised by `embed`)."""

    def __init__(self, rate: int, speakers: int):
        super().__init__()
        self.rate = rate
        layers: list[nn.Module] = []
        c_in = MELS
        for d in (1, 2, 3):
            layers += [nn.Conv1d(c_in, WIDTH, 5, dilation=d), nn.ReLU(), nn.BatchNorm1d(WIDTH)]
            c_in = WIDTH
        self.tdnn = nn.Sequential(*layers)
        self.embedding = nn.Linear(2 * WIDTH, EMBED)
        self.classify = nn.Sequential(nn.ReLU(), nn.Linear(EMBED, speakers))
        self.register_buffer("centre", torch.zeros(EMBED))  # the training clips' mean embedding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = log_mel(x, self.rate, MELS, 512, 128)[:, 0]  # [B, mels, frames]
        h = self.tdnn(m - m.mean(2, keepdim=True))
        return self.embedding(torch.cat([h.mean(2), h.std(2)], 1))

    @torch.no_grad()
    def raw(self, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """Clips [N, 1, T] in [-1, 1] -> embeddings [N, E] as the network gives them, in eval mode."""
        self.eval()
        return torch.cat([self(c.float()) for c in x.split(batch)])

    def unit(self, e: torch.Tensor, own_centre: bool = False) -> torch.Tensor:
        """Embeddings [N, E] -> unit length less the training clips' centre, or with `own_centre` less their own
        mean (clips of another kind, generated ones, share a direction of their own: scoring pairs among them is
        then fair)."""
        return F.normalize(e - (e.mean(0) if own_centre else self.centre), dim=1)

    def embed(self, x: torch.Tensor, own_centre: bool = False) -> torch.Tensor:
        """Clips [N, 1, T] in [-1, 1] -> the unit embeddings clips are compared by (see `unit`)."""
        return self.unit(self.raw(x), own_centre)


@torch.enable_grad()  # evaluations run under no_grad; this trains
def train_verifier(clips: torch.Tensor, who: torch.Tensor, rate: int, steps: int = STEPS, seed: int = 0) -> Verifier:
    """A verifier of clips [N, 1, T] in [-1, 1] of speakers `who` [N] (0 .. S-1), trained with random gains and
    shifts of up to a tenth of a clip (the same voice louder or later is the same voice)."""
    torch.manual_seed(seed)
    net = Verifier(rate, int(who.max()) + 1)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    g = torch.Generator().manual_seed(seed)
    shift = clips.shape[-1] // 10
    for _ in range(steps):
        i = torch.randint(len(clips), (min(BATCH, len(clips)),), generator=g)
        gain = 10 ** (torch.empty(len(i), 1, 1).uniform_(-0.5, 0.3, generator=g))  # -10 .. +6 dB
        x = torch.roll(clips[i] * gain, int(torch.randint(-shift, shift + 1, (), generator=g)), -1).clamp(-1, 1)
        loss = F.cross_entropy(net.classify(net(x)), who[i])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        net.centre.copy_(torch.cat([net(c) for c in clips.split(256)]).mean(0))
    return net


def verifier_for(data) -> Verifier:
    """The verifier of a voice data set (AudioData with train_speakers), trained on its training split once and
    cached by the data's fingerprint."""
    names = sorted(set(data.train_speakers))
    path = cache_root() / f"verifier-{data.fingerprint}-{STEPS}-centred.safetensors"
    net = Verifier(data.sample_rate, len(names))
    if path.is_file():
        net.load_state_dict(load_file(str(path)))
        return net.eval()
    who = torch.tensor([names.index(s) for s in data.train_speakers])
    net = train_verifier(data.tensor("train").float() / 32768.0, who, data.sample_rate)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp))
    os.replace(tmp, path)  # whole or absent: a parallel evaluation never reads half a file
    return net


def equal_error_rate(same: np.ndarray, different: np.ndarray) -> float:
    """The error rate at the threshold where same-speaker pairs rejected and different-speaker pairs accepted
    are equally common (scores: higher = more alike)."""
    from sklearn.metrics import roc_curve  # deferred: only this figure needs scikit-learn

    scores = np.concatenate([same, different])
    truth = np.concatenate([np.ones(len(same)), np.zeros(len(different))])
    fpr, tpr, _ = roc_curve(truth, scores)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2)


def pair_scores(emb: torch.Tensor, who: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Cosines of every pair of embeddings [N, E]: (same-speaker pairs, different-speaker pairs)."""
    sim = emb @ emb.T
    ids = {s: i for i, s in enumerate(sorted(set(who)))}
    w = torch.tensor([ids[s] for s in who])
    upper = torch.triu(torch.ones_like(sim, dtype=torch.bool), 1)
    same = (w[:, None] == w[None, :]) & upper
    return sim[same].numpy(), sim[~(w[:, None] == w[None, :]) & upper].numpy()
