"""The pieces text families share: a recurrent (GRU or LSTM) sentence decoder fed a condition at every step,
its teacher-forced likelihood, autoregressive sampling (greedy, temperature, top-p) and the exported step.

Token ids follow textset.py: PAD 0, UNK 1, BOS 2, EOS 3; a stored row is the
pieces, then EOS, then PAD. The decoder reads [BOS, x_0, ..., x_{L-2}] and
predicts x; PAD positions carry no loss (and cost no softmax).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .textset import BOS, EOS, PAD, UNK

if TYPE_CHECKING:
    from .lexicon import KnownWords

Cell = Literal["gru", "lstm"]


def recurrent(cell: Cell, inp: int, hidden: int, layers: int = 1, dropout: float = 0.0, bidirectional=False):
    """nn.GRU or nn.LSTM (batch first), driven through run_rnn with one state tensor."""
    rnn = nn.LSTM if cell == "lstm" else nn.GRU
    return rnn(inp, hidden, layers, batch_first=True, dropout=dropout, bidirectional=bidirectional)


def run_rnn(rnn: nn.RNNBase, x, h: Optional[torch.Tensor] = None):
    """x [B, T, inp] (or packed), state h -> (outputs, state). The state is one tensor
    [state_layers(rnn), B, H]: a GRU's own, an LSTM's h and c stacked on dim 0, so that sampling and the
    exported step carry one tensor whatever the cell."""
    if not isinstance(rnn, nn.LSTM):
        return rnn(x, h)
    o, (h, c) = rnn(x, None if h is None else tuple(h.chunk(2, 0)))
    return o, torch.cat([h, c], 0)


def state_layers(rnn: nn.RNNBase) -> int:
    return rnn.num_layers * (2 if rnn.bidirectional else 1) * (2 if isinstance(rnn, nn.LSTM) else 1)


def last_hidden(rnn: nn.RNNBase, state: torch.Tensor) -> torch.Tensor:
    """The final hidden state of each layer and direction [layers * directions, B, H] (an LSTM's h, not c)."""
    return state[: len(state) // 2] if isinstance(rnn, nn.LSTM) else state


class SentenceDecoder(nn.Module):
    """A recurrent language model whose every input step is [embed(token), cond] (Bowman et al. 2016 feed z
    at every step, so the latent cannot be forgotten along the sentence). cond_dim may be 0."""

    def __init__(
        self,
        vocab: int,
        embed: int,
        hidden: int,
        cond_dim: int,
        layers: int = 1,
        dropout: float = 0.0,
        cell: Cell = "gru",
        adaptive: bool = False,
    ):
        super().__init__()
        self.cond_dim, self.hidden = cond_dim, hidden
        self.embed = nn.Embedding(vocab, embed, padding_idx=PAD)
        self.rnn = recurrent(cell, embed + cond_dim, hidden, layers, dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        # adaptive: the tokenizer numbers pieces by frequency (SentencePiece sorts them by score), so the first
        # eighth of the ids take most positions and get the full-width head; the rest sit in two clusters of
        # 4x and 16x narrower projections (Grave et al. 2017). At 4,000 pieces a quarter of the full layer's work.
        self.out = (
            nn.AdaptiveLogSoftmaxWithLoss(hidden, vocab, cutoffs=[vocab // 8, vocab // 3], div_value=4.0)
            if adaptive
            else nn.Linear(hidden, vocab)
        )

    def logits(self, o: torch.Tensor) -> torch.Tensor:
        """RNN outputs [..., H] -> logits [..., V] (an adaptive softmax's log-probabilities)."""
        if isinstance(self.out, nn.Linear):
            return self.out(o)
        return self.out.log_prob(o.reshape(-1, o.shape[-1])).reshape(*o.shape[:-1], -1)

    def states(self, inp: torch.Tensor, cond: Optional[torch.Tensor] = None, h: Optional[torch.Tensor] = None):
        """inp [B, T] ids, cond [B, cond_dim] -> (RNN outputs [B, T, hidden], state [state_layers, B, hidden])."""
        e = self.drop(self.embed(inp))  # [B, T, E]
        if self.cond_dim:
            e = torch.cat([e, cond[:, None].expand(-1, inp.shape[1], -1).to(e.dtype)], 2)  # [B, T, E + C]
        return run_rnn(self.rnn, e, h)

    def forward(self, inp: torch.Tensor, cond: Optional[torch.Tensor] = None, h: Optional[torch.Tensor] = None):
        """inp [B, T] ids, cond [B, cond_dim] -> (logits [B, T, V], state [state_layers, B, hidden])."""
        o, h = self.states(inp, cond, h)
        return self.logits(self.drop(o)), h

    def nll(self, x: torch.Tensor, cond: Optional[torch.Tensor] = None, word_drop: float = 0.0) -> torch.Tensor:
        """-log p(x | cond) per sentence [B] in nats, teacher-forced (EOS included, PAD free).

        Columns past the batch's longest sentence are cut, and the V-way softmax runs only at
        real positions: about half the work of the padded batch, the same numbers."""
        mask = x != PAD
        x, mask = x[:, : int(mask.sum(1).max())], mask[:, : int(mask.sum(1).max())]
        o, _ = self.states(word_dropout(shift_right(x), word_drop), cond)  # [B, T', H]
        return self.masked_nll(o, x, mask)

    def masked_nll(self, o: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """RNN outputs o [B, T, H] and targets x [B, T] -> summed cross-entropy per row [B] over `mask`."""
        h = self.drop(o[mask])  # [positions, H]
        if isinstance(self.out, nn.Linear):
            ce = F.cross_entropy(self.out(h).float(), x[mask], reduction="none")  # [positions]
        else:  # the adaptive softmax computes only the clusters the targets fall in
            ce = -self.out(h, x[mask]).output.float()
        rows = torch.arange(len(x), device=x.device)[:, None].expand_as(mask)[mask]
        return torch.zeros(len(x), device=x.device, dtype=ce.dtype).index_add_(0, rows, ce)

    def prepare(self, cond: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        """What step() reads as its condition; a plain decoder reads cond itself."""
        return cond

    def step(self, tok: torch.Tensor, plan, h: Optional[torch.Tensor], t: int):
        """One sampling step at position t: tok [N, 1] -> (logits [N, 1, V], state)."""
        return self(tok, plan, h)

    def step_module(self) -> nn.Module:
        return DecoderStep(self)

    def step_example(self, cond: Optional[torch.Tensor]) -> tuple[tuple, list[str], list[str], list[int]]:
        """Example inputs of the exported step at batch 2, their names, the output names and batch dimensions."""
        token = torch.full((2,), BOS, dtype=torch.long)
        h = torch.zeros(state_layers(self.rnn), 2, self.hidden)
        args = (token, h) if cond is None else (token, h, cond)
        return args, ["token", "h", "cond"][: len(args)], ["logits", "h_out"], [0, 1, 0][: len(args)]


def shift_right(x: torch.Tensor) -> torch.Tensor:
    """Targets [B, L] -> decoder inputs [B, L]: BOS, then the targets without their last position."""
    return torch.cat([torch.full_like(x[:, :1], BOS), x[:, :-1]], 1)


def word_dropout(inp: torch.Tensor, p: float) -> torch.Tensor:
    """Bowman's word dropout: each input piece after BOS becomes UNK with probability p (training only)."""
    if p <= 0:
        return inp
    drop = (torch.rand(inp.shape, device=inp.device) < p) & (inp > EOS)
    return inp.masked_fill(drop, UNK)


def n_tokens(x: torch.Tensor) -> torch.Tensor:
    """Predicted positions per sentence [B] (pieces + EOS)."""
    return (x != PAD).sum(1)


@torch.no_grad()
def generate(
    dec: nn.Module,
    cond: Optional[torch.Tensor],
    n: int,
    length: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    generator: Optional[torch.Generator] = None,
    device: torch.device | str = "cpu",
    spell: Optional[KnownWords] = None,
) -> torch.Tensor:
    """Sample n sentences [n, length] (stored form): temperature 0 is greedy; top_p < 1 samples from the
    smallest set of pieces holding that probability (Holtzman et al. 2020); `spell` masks the pieces that
    would spell a word the training text lacks (lexicon.py). The last position is EOS."""
    tok = torch.full((n, 1), BOS, dtype=torch.long, device=device)
    out = torch.zeros(n, length, dtype=torch.long, device=device)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    h, plan = None, dec.prepare(cond)
    states, began = [""] * n, torch.zeros(n, dtype=torch.long)  # each row's open word and where it began
    for t in range(length):
        logits, h = dec.step(tok, plan, h, t)
        logits = logits[:, 0].float()  # [n, V]
        if spell is not None:
            logits = logits.masked_fill(~spell.mask(states).to(logits.device), float("-inf"))
        logits[:, [PAD, UNK, BOS]] = float("-inf")  # never emitted
        if t == length - 1:
            nxt = torch.full((n,), EOS, dtype=torch.long, device=device)
            for r in range(n) if spell is not None else ():  # the length limit cut a word: end before it
                if not done[r] and not spell.allowed(states[r])[EOS]:
                    out[r, began[r] :] = PAD
                    out[r, began[r]] = EOS
                    done[r] = True
        elif temperature <= 0:
            nxt = logits.argmax(1)
        else:
            probs = F.softmax(logits / temperature, 1)
            if top_p < 1.0:
                sp, si = probs.sort(1, descending=True)
                keep = sp.cumsum(1) - sp < top_p  # the first piece is always kept
                probs = torch.zeros_like(probs).scatter_(1, si, sp * keep)
            nxt = torch.multinomial(probs.cpu(), 1, generator=generator)[:, 0].to(device)
        nxt = nxt.masked_fill(done, PAD)
        out[:, t] = nxt
        done |= nxt == EOS
        if done.all():
            break
        tok = nxt[:, None]
        if spell is not None:
            states, new = spell.advance(states, nxt)
            began[torch.tensor(new)] = t
    return out


class DecoderStep(nn.Module):
    """The exportable decoder: one step (token [N], h [state_layers, N, H], cond [N, C]) -> (logits [N, V], h').
    Start with token = BOS (2) and h = zeros (an LSTM's h and c stacked); cond is [z, one_hot(y)] (z alone
    unconditional; one_hot(y) alone for a conditional LM; absent for a plain LM). Stop a row at EOS (3)."""

    def __init__(self, dec: SentenceDecoder):
        super().__init__()
        self.dec = dec

    def forward(self, token: torch.Tensor, h: torch.Tensor, cond: Optional[torch.Tensor] = None):
        logits, h = self.dec(token[:, None], cond, h)
        return logits[:, 0], h
