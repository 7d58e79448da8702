"""MusicVAE (Roberts et al. 2018) for melodies, and its decoder alone as the likelihood baseline.

Melodies are event sequences (musicset.py) and a 2-bar MusicVAE is a sentence VAE over them: a
bidirectional recurrent encoder, a Gaussian latent, an autoregressive decoder fed z at every step, the KL
held back by free bits and a beta below 1. The networks are the sentence VAE's (text_vae.py), LSTMs as in
the paper or GRUs (`model.cell`); `model.conductor` swaps in the hierarchical decoder of the paper's 16-bar
model (conductor.py), one segment a bar.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import nn

from ...models.base import FAMILIES
from ..text.text_lm import TextLM, TextLMConfig
from ..text.text_vae import TextVAE, TextVAEConfig
from .conductor import ConductorDecoder
from .musicset import STEPS_PER_BAR

ADAM = {"lr": 1e-3, "betas": [0.9, 0.999]}


NO_WORDS = Field(False, description="melodies have no words: always off")


class MusicVAEConfig(TextVAEConfig):
    known_words: Literal[False] = NO_WORDS
    conductor: bool = Field(
        False,
        description="hierarchical decoder: a conductor RNN gives each bar an embedding its bar decoder starts from",
    )


@FAMILIES.register("music-vae")
class MusicVAE(TextVAE):
    name = "music-vae"
    Config = MusicVAEConfig
    modality = "music"
    spells_words = False
    tiny = ("model.embed=16", "model.hidden=32", "model.latent_dim=8")
    presets = {
        # MusicVAE's cat-mel_2bar_small at CPU size: bidirectional LSTM encoder, 2-layer LSTM decoder, beta
        # ramped to 0.2, no free bits, batch 512 (the paper: LSTMs of 512 and 256 units, z of 256).
        "paper": {
            "model": {
                "cell": "lstm",
                "embed": 64,
                "hidden": 256,
                "layers": 2,
                "latent_dim": 256,
                "bidirectional": True,
                "beta": 0.2,
                "kl_anneal": "monotonic",
                "kl_anneal_steps": 2000,
            },
            "train": ADAM | {"batch_size": 512},
        },
        # cyclical KL annealing, free bits, event dropout: the recipe the sentence VAE had before word dropout's
        # cost in likelihood was measured on text (docs/text.md); melodies' own table is in docs/music.md
        "default": {
            "model": {
                "embed": 64,
                "hidden": 256,
                "latent_dim": 32,
                "kl_anneal": "cyclical",
                "kl_anneal_steps": 400,
                "word_dropout": 0.25,
                "free_bits": 0.1,
                "dropout": 0.2,
            },
            "train": ADAM | {"batch_size": 64},
        },
        # A latent that holds the melody, for interpolation and reconstruction (MusicVAE's demo): MusicVAE's
        # beta 0.2 ramped in, no free bits, no event dropout. At 10 CPU-minutes on the chorales (docs/music.md):
        # KL 23 nats against the default's 3, 84% of held-out events reconstructed against 78%, paths that move
        # through melodies; prior samples a little worse (precision 0.80 against 0.87).
        "latent": {
            "model": {
                "embed": 64,
                "hidden": 256,
                "latent_dim": 32,
                "kl_anneal": "monotonic",
                "kl_anneal_steps": 400,
                "beta": 0.2,
                "dropout": 0.2,
            },
            "train": ADAM | {"batch_size": 64},
        },
        # 16 bars, MusicVAE's hierarchical model (hierdec-mel_16bar) at CPU size: the `latent` recipe with the
        # conductor decoder and a latent of 64 for eight times the music.
        "long": {
            "data": {"bars": 16},
            "model": {
                "embed": 64,
                "hidden": 256,
                "latent_dim": 64,
                "conductor": True,
                "kl_anneal": "monotonic",
                "kl_anneal_steps": 400,
                "beta": 0.2,
                "dropout": 0.2,
            },
            "train": ADAM | {"batch_size": 32},
        },
    }

    def make_decoder(self, vocab: int, cond_dim: int) -> nn.Module:
        c = self.cfg
        if not c.conductor:
            return super().make_decoder(vocab, cond_dim)
        return ConductorDecoder(
            vocab,
            c.embed,
            c.hidden,
            cond_dim,
            self.length,
            STEPS_PER_BAR,
            c.layers,
            c.dropout,
            c.cell,
            c.adaptive_softmax,
        )


class MusicLMConfig(TextLMConfig):
    known_words: Literal[False] = NO_WORDS


@FAMILIES.register("music-lm")
class MusicLM(TextLM):
    name = "music-lm"
    Config = MusicLMConfig
    modality = "music"
    spells_words = False
    tiny = ("model.embed=16", "model.hidden=32")
    presets = {"default": {"model": {"embed": 64, "hidden": 256, "dropout": 0.2}, "train": ADAM | {"batch_size": 64}}}
