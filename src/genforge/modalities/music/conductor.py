"""MusicVAE's hierarchical decoder (Roberts et al. 2018, section 3.2): a "conductor" RNN turns the latent
into one embedding per segment (a bar), and a bottom decoder plays each segment from its embedding alone.

    cond [B, C] = [z, one_hot(y)]
      -> conductor: state tanh(W cond), input cond at each of U steps -> c [B, U, H]
      -> segment u: bottom decoder state reset to tanh(W' c_u), input [embed(previous event), c_u]
         at each of its S events (S = 16 16th-note steps, a 4/4 bar)

A flat decoder can model 16 bars while forgetting z along 256 steps; here every bar starts from a state made
of the latent alone, so the latent has to carry the piece (the paper's fix for its 16-bar posterior
collapse). The previous event still crosses bar lines (teacher-forced in training, sampled in generation).
Stored rows are U * S events, then EOS: the positions past U * S continue the last segment.

Training runs the U segments of a batch as one batch of B * U sequences of S steps: 16 sequential steps
for 16 bars instead of 256 (on 2 CPU cores the step costs about what the flat decoder's does: 524 against
559 steps in 10 minutes, docs/music.md; the work per event, not the sequence, dominates there).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..text.sentence import Cell, SentenceDecoder, recurrent, run_rnn, shift_right, state_layers, word_dropout
from ..text.textset import BOS, PAD


class ConductorDecoder(nn.Module):
    """The hierarchical decoder of sequences [B, L], L = U * segment (+ a tail), conditioned on cond [B, C]."""

    def __init__(
        self,
        vocab: int,
        embed: int,
        hidden: int,
        cond_dim: int,
        length: int,
        segment: int,
        layers: int = 1,
        dropout: float = 0.0,
        cell: Cell = "gru",
        adaptive: bool = False,
    ):
        super().__init__()
        self.segment, self.segments = segment, max(1, (length - 1) // segment)
        self.hidden = hidden
        self.conductor = recurrent(cell, cond_dim, hidden, layers)
        self.conductor_init = nn.Linear(cond_dim, state_layers(self.conductor) * hidden)
        self.bottom = SentenceDecoder(vocab, embed, hidden, hidden, layers, dropout, cell, adaptive)
        self.bottom_init = nn.Linear(hidden, state_layers(self.bottom.rnn) * hidden)

    @property
    def embed(self) -> nn.Embedding:
        return self.bottom.embed  # shared with the encoder

    def _state(self, init: nn.Linear, c: torch.Tensor) -> torch.Tensor:
        """c [N, C] -> an initial recurrent state [state_layers, N, H]."""
        return torch.tanh(init(c)).view(c.shape[0], -1, self.hidden).transpose(0, 1).contiguous()

    def prepare(self, cond: torch.Tensor) -> torch.Tensor:
        """cond [B, C] -> the conductor's segment embeddings [B, U, H]."""
        steps = cond[:, None].expand(-1, self.segments, -1)  # [B, U, C]
        c, _ = run_rnn(self.conductor, steps, self._state(self.conductor_init, cond))
        return c

    def nll(self, x: torch.Tensor, cond: torch.Tensor, word_drop: float = 0.0) -> torch.Tensor:
        """-log p(x | cond) per sequence [B] in nats, teacher-forced (PAD positions free)."""
        b, u, s = len(x), self.segments, self.segment
        inp = word_dropout(shift_right(x), word_drop)  # [B, L]
        c = self.prepare(cond)  # [B, U, H]
        flat_c = c.reshape(b * u, -1)
        o, h = self.bottom.states(inp[:, : u * s].reshape(b * u, s), flat_c, self._state(self.bottom_init, flat_c))
        o = o.reshape(b, u * s, -1)  # [B, U * S, H]
        if x.shape[1] > u * s:  # the tail (EOS) continues the last segment
            last = h.view(len(h), b, u, -1)[:, :, -1].contiguous()  # [state_layers, B, H]
            tail, _ = self.bottom.states(inp[:, u * s :], c[:, -1], last)
            o = torch.cat([o, tail], 1)
        return self.bottom.masked_nll(o, x, x != PAD)

    def step(self, tok: torch.Tensor, plan: torch.Tensor, h: Optional[torch.Tensor], t: int):
        """One sampling step at position t, plan = prepare(cond): tok [N, 1] -> (logits [N, 1, V], state)."""
        u = min(t // self.segment, self.segments - 1)
        if t % self.segment == 0 and t < self.segments * self.segment:
            h = self._state(self.bottom_init, plan[:, u])  # a new bar starts from its embedding alone
        return self.bottom(tok, plan[:, u], h)

    def step_module(self) -> nn.Module:
        return ConductorStep(self)

    def step_example(self, cond: torch.Tensor) -> tuple[tuple, list[str], list[str], list[int]]:
        """Example inputs of ConductorStep at batch 2, their names, the output names and batch dimensions."""
        token = torch.full((2,), BOS, dtype=torch.long)
        h = torch.zeros(state_layers(self.bottom.rnn), 2, self.hidden)
        t = torch.zeros(2, dtype=torch.long)
        return (token, h, cond, t), ["token", "h", "cond", "t"], ["logits", "h_out"], [0, 1, 0, 0]


class ConductorStep(nn.Module):
    """The exportable hierarchical decoder: one step (token [N], h [state_layers, N, H], cond [N, C], t [N])
    -> (logits [N, V], h'). t is the position being predicted (0, 1, ...); the state is reset from the
    conductor where a bar starts, so start with token = BOS (2) and any h (zeros). Stop a row at EOS (3)."""

    def __init__(self, dec: ConductorDecoder):
        super().__init__()
        self.dec = dec

    def forward(self, token: torch.Tensor, h: torch.Tensor, cond: torch.Tensor, t: torch.Tensor):
        d = self.dec
        plan = d.prepare(cond)  # [N, U, H]; recomputed each step so that the step is one stateless function
        u = (t // d.segment).clamp(max=d.segments - 1)
        c = plan[torch.arange(t.shape[0]), u]  # [N, H]
        starts = (t % d.segment == 0) & (t < d.segments * d.segment)  # [N]
        h = torch.where(starts[None, :, None], d._state(d.bottom_init, c), h)
        logits, h = d.bottom(token[:, None], c, h)
        return logits[:, 0], h
