"""A question-answer matching model trained on the training pairs (no download): does an answer answer its
question? The yardstick of relevance, as an image-text matcher is of text-to-image.

    pieces:  ids [B, L] -> shared embedding [B, L, 128] -> mean over the pieces (PAD, EOS excluded) [B, 128]
    towers:  question MLP and answer MLP (128 -> tanh -> 128) -> unit length
    score(q, a) = <q, a> / 0.05

Trained with the in-batch softmax of both directions (each question against the batch's answers and back: the
dual encoders of retrieval, Henderson et al. 2017), the question itself read as an answer one more negative,
with a third of the pieces dropped and weight decay. Bags of
pieces, not convolutions: on the ~1,000 English pairs a convolutional tower matched held-out pairs at recall 0.13
(0.99 on training pairs), the bag at 0.24, ten times faster. Recall at 1 of a pair: its answer outscores
`distractors` answers of other held-out questions (one drawn set for every side, so samples and floor compare).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..text.textset import EOS

TEMPERATURE = 0.05


class Matcher(nn.Module):
    def __init__(self, vocab: int, dim: int = 128, drop: float = 0.3):
        super().__init__()
        self.drop = drop
        self.pieces = nn.Embedding(vocab, dim, padding_idx=0)
        self.towers = nn.ModuleList(nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, dim)) for _ in "qa")

    def embed(self, ids: torch.Tensor, side: int) -> torch.Tensor:
        """ids [B, L] of questions (side 0) or answers (side 1) -> unit vectors [B, 128]."""
        keep = (ids > EOS).float()  # [B, L]
        if self.training:
            keep = keep * (torch.rand(keep.shape) >= self.drop)
        mean = (self.pieces(ids) * keep[..., None]).sum(1) / keep.sum(1, keepdim=True).clamp_min(1)  # [B, 128]
        return F.normalize(self.towers[side](mean), dim=1)


def train_matcher(train: torch.Tensor, vocab: int, steps: int = 1500, batch: int = 64, seed: int = 0) -> Matcher:
    """A matcher of training pairs [N, 2, L]; pairs sharing a question or an answer are not negatives."""
    torch.manual_seed(seed)
    model = Matcher(vocab)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.1)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = train[torch.randint(len(train), (min(batch, len(train)),), generator=gen)]
        q, a, echo = model.embed(x[:, 0], 0), model.embed(x[:, 1], 1), model.embed(x[:, 0], 1)
        logits = q @ a.T / TEMPERATURE  # [B, B]
        same = (x[:, None, 0] == x[None, :, 0]).all(2) | (x[:, None, 1] == x[None, :, 1]).all(2)
        logits = logits.masked_fill(same & ~torch.eye(len(x), dtype=torch.bool), float("-inf"))
        # each question read as an answer is one more negative of its own row: an answer that repeats the
        # question's words is not thereby an answer (without it, echoed questions outscored real answers)
        echoed = (q * echo).sum(1, keepdim=True) / TEMPERATURE  # [B, 1]
        target = torch.arange(len(x))
        loss = F.cross_entropy(torch.cat([logits, echoed], 1), target) + F.cross_entropy(logits.T, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def recall_at_1(model: Matcher, pairs: torch.Tensor, pool: torch.Tensor, distractors: int = 19, seed: int = 0):
    """Per pair [N, 2, L]: 1 when its answer scores above `distractors` answers of the pool [M, 2, L] whose
    question differs from the pair's (ties shared), else 0 -> float [N]."""
    q = model.embed(pairs[:, 0], 0)
    own = (q * model.embed(pairs[:, 1], 1)).sum(1)  # [N]
    others = model.embed(pool[:, 1], 1)  # [M, 128]
    allowed = ~(pairs[:, None, 0] == pool[None, :, 0]).all(2)  # [N, M]: answers of other questions
    gen = torch.Generator().manual_seed(seed)
    pick = torch.rand(allowed.shape, generator=gen).masked_fill(~allowed, 2.0).argsort(1)[:, :distractors]  # [N, k]
    scores = (q[:, None] * others[pick]).sum(2)  # [N, k]
    better, tied = (scores > own[:, None]).sum(1), (scores == own[:, None]).sum(1)
    return torch.where(better == 0, 1.0 / (1 + tied), 0.0)
