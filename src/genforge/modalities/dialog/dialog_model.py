"""What the dialog families share: a question (context) encoder, an answer encoder, a sentence decoder fed
[z, c] at every step, the held-out questions they answer when sampled, and `answer`.

    context c:  question ids [B, L] -> shared embedding [B, L, E] -> bidirectional GRU -> last states [B, 2H]
                (+ one_hot(category) [B, K] when conditional) -> c [B, C]
    answer r:   answer ids [B, L] -> the same embedding -> bidirectional GRU -> r [B, 2H]
    decoder:    p(answer | z, c), the text families' SentenceDecoder with cond [z, c] [B, D + C]

A family adds how z is drawn: a prior network p(z | c) (dialog-cvae) or a generator of the prior trained
against the posterior (dialog-gan). Sampling answers held-out questions (the `from_data` ability): `prior`
draws them, `decode` answers them; `answer` answers questions a user gives.
"""

from __future__ import annotations

from typing import Optional

import torch
from pydantic import Field
from torch import nn

from ...models.abilities import Answers, FromData
from ...models.base import Family, append_class
from ..text.lexicon import Lexicon, SpellsKnownWords
from ..text.sentence import SentenceDecoder, generate, last_hidden, recurrent, run_rnn
from ..text.text_vae import TextSamplingConfig
from ..text.textset import PAD


class DialogConfig(TextSamplingConfig):
    latent_dim: int = Field(32, ge=1, description="latent size")
    context_hidden: int = Field(128, ge=8, description="state size of each direction of the question encoder")
    word_dropout: float = Field(0.0, ge=0, le=1, description="share of decoder input pieces replaced by UNK")


class SentenceEncoder(nn.Module):
    """ids [B, L] (through an embedding given to forward, so that it is stored once) -> [B, 2H]: the last states
    of a bidirectional recurrent reader."""

    def __init__(self, cfg: DialogConfig):
        super().__init__()
        self.rnn = recurrent(cfg.cell, cfg.embed, cfg.context_hidden, bidirectional=True)

    def forward(self, embed: nn.Embedding, x: torch.Tensor) -> torch.Tensor:
        lengths = (x != PAD).sum(1).clamp_min(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(embed(x), lengths, batch_first=True, enforce_sorted=False)
        _, h = run_rnn(self.rnn, packed)
        return torch.cat(list(last_hidden(self.rnn, h)), 1)  # [B, 2H]


def gaussian_head(inp: int, hidden: int, out: int) -> nn.Module:
    """[B, inp] -> [B, 2 * out]: the mean and log-variance of a diagonal Gaussian (Zhao et al.'s prior net)."""
    return nn.Sequential(nn.Linear(inp, hidden), nn.Tanh(), nn.Linear(hidden, 2 * out))


class DialogFamily(Answers, FromData, SpellsKnownWords, Family):
    """The shared half of dialog-cvae and dialog-gan; each writes `train_step` and `latent`."""

    modality = "dialog"
    own_inputs = "`genforge answer RUN 'a question'` answers questions of your own"

    def __init__(self, cfg: DialogConfig, shape, n_classes: int = 0):
        super().__init__(cfg, shape, n_classes)
        _, self.length, vocab = self.shape
        self.context_dim = 2 * cfg.context_hidden + self.cond_classes
        self.decoder = SentenceDecoder(vocab, cfg.embed, cfg.hidden, cfg.latent_dim + self.context_dim, cfg.layers,
                                       cfg.dropout, cfg.cell, cfg.adaptive_softmax)  # fmt: skip
        self.question_encoder = SentenceEncoder(cfg)
        self.answer_encoder = SentenceEncoder(cfg)
        self.lexicon = Lexicon()

    def context(self, q: torch.Tensor, y: Optional[torch.Tensor]) -> torch.Tensor:
        """Question ids [B, L] (and categories [B]) -> c [B, C]."""
        return append_class(self.question_encoder(self.decoder.embed, q), y, self.cond_classes)

    def answer_code(self, a: torch.Tensor) -> torch.Tensor:
        """Answer ids [B, L] -> r [B, 2H]."""
        return self.answer_encoder(self.decoder.embed, a)

    def latent(self, c: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Contexts [B, C] -> latents [B, D] from the family's prior given the question."""
        raise NotImplementedError

    def noise(self, like: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
        """N(0, I) shaped as `like`, from `generator` (zeros without one: the mode, for greedy decoding)."""
        if generator is None:
            return torch.zeros_like(like)
        return torch.randn(like.shape, generator=generator).to(like.device)

    def touched(self, loss: torch.Tensor) -> torch.Tensor:
        """`loss` with every weight in its graph at weight 0 when training on several processes: under
        DistributedDataParallel (the whole family one unit) every backward must give every weight a gradient, and
        a phase or preset may use only some. On one process, `loss` itself."""
        if not self.__dict__.get("_wrapped"):
            return loss
        return loss + 0.0 * sum(p.sum() for p in self.parameters())

    def fit_data(self, train, to_model, class_names=None, labels=None) -> None:
        """The known words of both sides."""
        super().fit_data(train.flatten(0, 1), to_model, class_names, labels)

    def prior(self, n, generator=None, labels=None):
        """What sampling answers: held-out questions [n, L], every one in turn in an order drawn with `generator`
        (n = k times the held-out count answers each k times); for a conditional model, each of the category in
        `labels` [n], drawn among those of it where the held-out split has one."""
        pairs, cats = self.held_out_data()
        order = torch.randperm(len(pairs), generator=generator)
        pick = order.repeat(-(-n // len(pairs)))[:n]
        if labels is not None and cats is not None:
            for k in labels.unique().tolist():
                where, pool = labels.cpu() == k, (cats == k).nonzero()[:, 0]
                if len(pool):
                    pick[where] = pool[torch.randint(len(pool), (int(where.sum()),), generator=generator)]
        return pairs[pick, 0].to(self.device)

    def decode(self, z, y=None, generator=None):
        """Question ids z [N, L] (categories y [N]) -> pairs [N, 2, L]: the questions and an answer each, sampled
        with the configured temperature and top-p from `generator` (greedy without one)."""
        self._need_labels(y)
        c = self.context(z, y if self.conditional else None)
        t = self.cfg.temperature if generator is not None else 0.0
        cond = torch.cat([self.latent(c, generator), c], 1)
        a = generate(self.decoder, cond, len(z), self.length, t, self.cfg.top_p, generator, z.device, self.spelling())
        return torch.stack([z, a], 1)

    def answer(self, questions, y=None, generator=None):
        return self.decode_batches(questions.to(self.device), None if y is None else y.to(self.device), 512, generator)

    def held_out_rows(self, n, generator=None):
        y = self.labels(n, generator)
        q = self.prior(n, generator, y)
        return "Held-out questions and an answer each:", [("answer", self.decode_batches(q, y, 512, generator))]

    def exportable(self):
        return self.decoder.step_module()

    def export_example(self):
        return self.decoder.step_example(torch.randn(2, self.cfg.latent_dim + self.context_dim))

    @property
    def latent_dim(self) -> int:
        return self.cfg.latent_dim
