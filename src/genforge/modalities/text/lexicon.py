"""Spelling only the training text's words: lexically constrained sampling for the text families.

A young decoder joins pieces that never meet in the data ("enlihodays"): after ten CPU-minutes about one
sample word in seven is in no training text, against one in seventeen of held-out text, and sampling
settings alone do not close the gap (docs/text.md). With `model.known_words`, each step of sampling masks
the pieces that would spell a word the training text lacks, the way constrained decoding masks tokens
outside a grammar: every finished word is one the data has, and which words, in which order, is still the
model's choice (the masked probability mass goes to the pieces that remain, as top-p's does).

Words are those of the `invented_words` figure: lower-cased runs of letters with apostrophes inside. The
lexicon is kept in the run's weights (`Lexicon`, a buffer of the joined words), filled from the training
split before the first step, so a loaded model spells as its run did. Greedy decoding (reconstructions,
interpolation paths) takes the same mask. Text written without spaces (Chinese, Japanese) gets no lexicon:
there the unit is a pair of adjacent characters, held-out text has 43% pairs its training text lacks, and a
rule against them cut the distinct pairs of Chinese samples from 0.45 to 0.28 (docs/text.md).
"""

from __future__ import annotations

import re
from typing import Optional

import numpy as np
import torch
from torch import nn

from .sources import WORD, is_cjk, lexicon
from .textset import EOS, decode

WORD_CHARS = r"(?:[^\W\d_]|['’])*"  # letters and apostrophes: what a word is made of while it is spelt
LEAD, TRAIL = re.compile("^" + WORD_CHARS), re.compile(WORD_CHARS + "$")
APOSTROPHES = "'’"


class KnownWords:
    """Which pieces may follow each row's unfinished word. A row's state is its open word so far (lower-cased
    letters and apostrophes since the last other character)."""

    def __init__(self, pieces: list[str], known: set[str]):
        self.known, self.vocab = known, len(pieces)
        self.prefixes = {w[:i] for w in known for i in range(1, len(w) + 1)}
        self.masks: dict[str, torch.Tensor] = {}  # state -> allowed pieces [V]
        texts = [p.replace("▁", " ").lower() for p in pieces]
        ids = np.arange(len(pieces))
        spelling = ids > EOS  # the specials are not spelling
        lead = [LEAD.match(t).group() for t in texts]
        pure = np.array([len(lead[i]) == len(t) for i, t in enumerate(texts)])
        trail = [TRAIL.search(t[len(lead[i]) :]).group() for i, t in enumerate(texts)]
        # a piece that ends the open word may follow only if all it spells after that is known
        middle = [t[len(lead[i]) : len(t) - len(trail[i])] for i, t in enumerate(texts)]
        later_known = np.array([self._closed(m) and self._open(tr) for m, tr in zip(middle, trail)])
        self.pure_ids = ids[spelling & pure]  # pieces of letters only: the open word grows
        self.pure_texts = [texts[i] for i in self.pure_ids]
        self.break_ids = ids[spelling & ~pure & later_known]
        self.texts, self.lead, self.trail, self.pure = texts, lead, trail, pure

    def _closed(self, text: str) -> bool:
        """Every finished word of `text` is known."""
        return all(w.lower() in self.known for w in WORD.findall(text))

    def _open(self, word: str) -> bool:
        """`word` (an unfinished word) can still become a known word, or ends a known one with an apostrophe."""
        word = word.lstrip(APOSTROPHES)
        return not word or word in self.prefixes or (word[-1] in APOSTROPHES and self._closed(word))

    def allowed(self, state: str) -> torch.Tensor:
        """[V] bool: the pieces that may come next after `state` (EOS only where the open word is finished)."""
        if state in self.masks:
            return self.masks[state]
        mask = np.zeros(self.vocab, dtype=bool)
        mask[self.pure_ids] = [self._open(state + t) for t in self.pure_texts]
        mask[self.break_ids] = [self._closed(state + self.lead[i]) for i in self.break_ids]
        mask[EOS] = self._closed(state)
        if len(self.masks) > 100_000:  # a bound on memory for very long sampling sessions
            self.masks.clear()
        self.masks[state] = out = torch.from_numpy(mask)
        return out

    def mask(self, states: list[str]) -> torch.Tensor:
        """[n, V] bool for every row; a row with nothing allowed (a dead end) may take any piece."""
        out = torch.stack([self.allowed(s) for s in states])
        return out | ~out.any(1, keepdim=True)

    def advance(self, states: list[str], ids: torch.Tensor) -> tuple[list[str], list[bool]]:
        """Each row's state after its piece `ids` [n], and whether that piece began a new open word."""
        out, began = [], []
        for s, i in zip(states, ids.tolist()):
            nxt = "" if i <= EOS else s + self.texts[i] if self.pure[i] else self.trail[i]
            out.append(nxt)
            began.append(bool(nxt) and (not s or not self.pure[i]))
        return out, began


class Lexicon(nn.Module):
    """The training text's words, kept with the weights (a uint8 buffer of the newline-joined sorted words;
    empty for a run trained before there was one: it then samples without the constraint)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("words", torch.zeros(0, dtype=torch.uint8))
        self._made: Optional[tuple[object, KnownWords]] = None  # (codec, its constraint), built on first use

    def fit(self, codec, train: torch.Tensor) -> None:
        """Fill from the training split's ids [N, L] read with the run's tokenizer `codec` (left empty for text
        written without spaces)."""
        texts = decode(codec, train)
        words = [] if is_cjk(texts) else sorted(lexicon(texts, cjk=False))
        self.words = torch.tensor(list("\n".join(words).encode()), dtype=torch.uint8)
        self._made = None

    def constraint(self, codec) -> Optional[KnownWords]:
        """The sampling constraint for tokenizer `codec`; None without a lexicon or a tokenizer."""
        if codec is None or not len(self.words):
            return None
        if self._made is None or self._made[0] is not codec:
            known = set(bytes(self.words.tolist()).decode().split("\n"))
            self._made = (codec, KnownWords([codec.id_to_piece(i) for i in range(codec.get_piece_size())], known))
        return self._made[1]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "words"
        state_dict.setdefault(key, torch.zeros(0, dtype=torch.uint8))  # runs from before the lexicon
        self.words = torch.empty_like(state_dict[key])  # the saved lexicon's size, not the fresh one's
        self._made = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class SpellsKnownWords:
    """For a family of sentence decoders holding a `Lexicon` as `self.lexicon` and a `known_words` option:
    fill it from the training split, and give `generate` its constraint. `spells_words` is False for the
    families that reuse the text networks on other sequences (melodies have no words; their configs hold
    `known_words` at False)."""

    spells_words = True

    def fit_data(self, train, to_model, class_names=None, labels=None) -> None:
        if self.spells_words and self.codec is not None:  # a family built alone (no tokenizer) learns none
            self.lexicon.fit(self.codec, train)

    def spelling(self) -> Optional[KnownWords]:
        """The sampling constraint, when `model.known_words` is on and the run has a lexicon."""
        return self.lexicon.constraint(self.codec) if self.cfg.known_words else None
