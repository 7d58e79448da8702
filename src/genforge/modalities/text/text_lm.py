"""A recurrent language model: the text VAE's decoder with no latent (`text-lm`).

It is the likelihood baseline a sentence VAE is judged against (Bowman et al.
2016): a VAE that uses its latent should come within a few nats of it. A
conditional LM feeds one_hot(y) at every step instead of z.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from ...models.abilities import Likelihood
from ...models.base import FAMILIES, Family
from .figures import text_figures
from .lexicon import Lexicon, SpellsKnownWords
from .sentence import SentenceDecoder, generate
from .text_vae import TextSamplingConfig


class TextLMConfig(TextSamplingConfig):
    pass


@FAMILIES.register("text-lm")
class TextLM(Likelihood, SpellsKnownWords, Family):
    name = "text-lm"
    Config = TextLMConfig
    modality = "text"
    abilities = frozenset({"likelihood", "conditional"})
    tiny = ("model.embed=32", "model.hidden=32")
    # dropout 0.3: on ~10k sentences the plain decoder overfits within minutes (held-out NLL stops
    # falling by epoch 6 of the English fortunes while the training loss keeps going down)
    presets = {"default": {"model": {"dropout": 0.3}, "train": {"lr": 1e-3, "betas": [0.9, 0.999], "batch_size": 64}}}
    optimizer = "lm"
    search_space = {
        "train.lr": {"type": "float", "low": 3e-4, "high": 3e-3, "log": True},
        "train.batch_size": {"type": "categorical", "choices": [32, 64, 128]},
        "model.hidden": {"type": "categorical", "choices": [128, 256, 512]},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.4},
    }

    def __init__(self, cfg: TextLMConfig, shape, n_classes: int = 0):
        super().__init__(cfg, shape, n_classes)
        vocab, self.length = self.shape
        self.decoder = SentenceDecoder(
            vocab, cfg.embed, cfg.hidden, self.cond_classes, cfg.layers, cfg.dropout, cfg.cell, cfg.adaptive_softmax
        )
        self.lexicon = Lexicon()

    @property
    def latent_dim(self) -> int:
        return 0

    def _cond(self, y: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        return F.one_hot(y, self.n_classes).float() if self.conditional else None

    def train_step(self, x, y, opts):
        loss = -self.through()("log_likelihood_terms", x, y if self.conditional else None, None).mean()
        opts["lm"].zero_grad(set_to_none=True)
        loss.backward()
        opts["lm"].step()
        return {"loss": loss.detach()}

    def held_out_loss(self, x, y=None):
        """The NLL, nats per sentence, batch mean."""
        return -self.log_likelihood_terms(x, y).mean()

    def log_likelihood_terms(self, x, y, z=None):
        """log p(x) per sentence [B] (log p(x | y) when conditional)."""
        return -self.decoder.nll(x, self._cond(y))

    def decode(self, z, y=None, generator=None):
        """Empty latents [N, 0] -> token ids [N, L], sampled from `generator` (greedy without one)."""
        self._need_labels(y)
        t = self.cfg.temperature if generator is not None else 0.0
        return generate(
            self.decoder, self._cond(y), len(z), self.length, t, self.cfg.top_p, generator, z.device, self.spelling()
        )

    def extra_figures(self, test, labels, k=32, seed=0):
        return text_figures(self, test, labels, k, seed)

    def exportable(self):
        return self.decoder.step_module()

    def export_example(self):
        y = torch.arange(2) % self.n_classes if self.conditional else None
        return self.decoder.step_example(self._cond(y))
