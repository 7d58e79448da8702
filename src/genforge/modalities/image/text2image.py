"""Text-to-image: a DCGAN conditioned on the words of a caption (Reed et al. 2016, with Miyato & Koyama's
projection discriminator fed the text embedding).

It trains on captioned images (`captions.csv` beside an image folder, or `fashion-mnist-captions`): the data
set's labels index its distinct captions, whose UTF-8 bytes the model keeps ([K, L] buffers, saved with the
weights). Each network reads the bytes with its own small text encoder, trained with it from scratch: no
vocabulary and no download, so any language and any new prompt can be read.

    text encoder: bytes [B, L] -> Embedding 257 x 64 -> Conv1d 128 k3 -> ReLU -> Conv1d 128 k3 -> ReLU
                  -> max over the caption's bytes [B, 128] -> Linear [B, text_dim]
    G: [z, e_G(text)] [B, latent + text_dim] -> the DCGAN generator -> [B, C, H, W]
    D: phi(x) [B, F] (the DCGAN discriminator's features) -> dense(phi) + <W e_D(text), phi> [B] logits

`y` is a caption index [B] (training, and sampling the data's caption mix) or a prompt's bytes [B, L] uint8.
"""

from __future__ import annotations

from typing import Optional

import torch
from pydantic import Field, field_validator
from torch import nn

from ...errors import ConfigError
from ...models.abilities import Prompted
from ...models.base import FAMILIES
from ...models.dcgan import DCGAN, DCGANConfig, Discriminator, Generator


class Text2ImageConfig(DCGANConfig):
    conditional: bool = Field(True, description="always on: captions are the condition (needs captioned data)")
    text_dim: int = Field(64, ge=4, description="size of the caption embedding")
    max_caption_bytes: int = Field(96, ge=8, description="longest caption or prompt it reads, in UTF-8 bytes")

    @field_validator("conditional")
    @classmethod
    def _always(cls, v: bool) -> bool:
        if not v:
            raise ValueError("text2image is always conditioned on captions; leave model.conditional at true")
        return v


def caption_bytes(texts: list[str], length: int, what: str = "caption") -> torch.Tensor:
    """Texts -> uint8 [N, length] of their lower-cased UTF-8 bytes, 0-padded; too long a text is an error."""
    out = torch.zeros(len(texts), length, dtype=torch.uint8)
    for i, t in enumerate(texts):
        b = t.strip().lower().encode("utf-8")
        if not b:
            raise ConfigError(f"an empty {what}: expected some words")
        if len(b) > length:
            raise ConfigError(
                f"{what} {t[:60]!r} is {len(b)} bytes; this model reads at most {length} (model.max_caption_bytes)"
            )
        out[i, : len(b)] = torch.frombuffer(bytearray(b), dtype=torch.uint8)
    return out


class TextEncoder(nn.Module):
    def __init__(self, dim: int, width: int = 64):
        super().__init__()
        self.embed = nn.Embedding(257, width, padding_idx=0)  # byte b -> b (0 is padding: no UTF-8 text has it)
        self.conv1 = nn.Conv1d(width, 2 * width, 3, padding=1)
        self.conv2 = nn.Conv1d(2 * width, 2 * width, 3, padding=1)
        self.out = nn.Sequential(nn.Linear(2 * width, dim), nn.LayerNorm(dim))  # unit scale, as z has

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        ids = text.long()  # [B, L]
        if self.training:  # drop the padding columns past the batch's longest text: the same result, faster
            ids = ids[:, : max(1, int((ids > 0).sum(1).max()))]
        pad = (ids == 0)[:, None]  # [B, 1, L]; padding reads as zeros at every layer, like the convs' own padding
        h = self.conv1(self.embed(ids).transpose(1, 2)).relu().masked_fill(pad, 0.0)  # [B, 2w, L]
        h = self.conv2(h).relu().masked_fill(pad, float("-inf")).amax(2)  # [B, 2w]: the strongest match per filter
        return self.out(h)  # [B, text_dim]


class Captioned(nn.Module):
    """What both networks share: the data's captions as bytes, and reading a condition into an embedding."""

    def __init__(self, cfg: Text2ImageConfig, n_captions: int):
        super().__init__()
        self.register_buffer("captions", torch.zeros(n_captions, cfg.max_caption_bytes, dtype=torch.uint8))
        self.text = TextEncoder(cfg.text_dim)

    def embed(self, y: torch.Tensor) -> torch.Tensor:
        """Caption indices [B] or prompt bytes [B, L] -> embeddings [B, text_dim]."""
        if y.dtype == torch.uint8:
            return self.text(y)
        if self.training:  # each distinct caption of the batch read once
            distinct, index = torch.unique(y, return_inverse=True)
            return self.text(self.captions[distinct])[index]
        return self.text(self.captions[y])


class TextGenerator(Captioned):
    def __init__(self, cfg: Text2ImageConfig, shape, n_captions: int):
        super().__init__(cfg, n_captions)
        self.G = Generator(cfg.model_copy(update={"latent_dim": cfg.latent_dim + cfg.text_dim}), shape, 0)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.G(torch.cat([z, self.embed(y)], 1))  # [B, C, H, W]


class TextDiscriminator(Captioned):
    def __init__(self, cfg: Text2ImageConfig, shape, n_captions: int):
        super().__init__(cfg, n_captions)
        self.D = Discriminator(cfg, shape, 0)
        self.project = nn.Linear(cfg.text_dim, self.D.net[-1].in_features, bias=False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.D.net[:-1](x)  # [B, F] features phi(x)
        return self.D.net[-1](h).squeeze(1) + (self.project(self.embed(y)) * h).sum(1)  # [B] logits


@FAMILIES.register("text2image")
class Text2Image(Prompted, DCGAN):
    name = "text2image"
    Config = Text2ImageConfig
    abilities = frozenset({"conditional", "prompt", "critic"})
    tiny = ("model.width=0.25", "model.text_dim=32")
    search_space = {k: v for k, v in DCGAN.search_space.items() if k != "model.augment"} | {
        "model.text_dim": {"type": "categorical", "choices": [32, 64, 128]}
    }
    # the DCGAN `lean` preset (no EMA), with MSGAN's mode-seeking term: without it, each caption's samples
    # collapse to one picture (the noise is ignored once the text says much about the image); and the
    # matching-aware discriminator: without it, a short run now and then draws one caption's images for another
    # (on digits, 700 steps: a digit below 50% agreement in 4 runs of 5, none in 5 with it)
    presets = {
        "default": {
            "model": {**DCGAN.presets["lean"]["model"], "mode_seeking": 1.0, "matching_aware": True},
            "train": DCGAN.presets["lean"]["train"],
        }
    }
    budget_presets = ()  # DCGAN's `wide` is measured on unconditional images only
    generator_class = TextGenerator
    discriminator_class = TextDiscriminator

    def __init__(self, cfg: Text2ImageConfig, shape, n_classes: int = 0):
        super().__init__(cfg, shape, n_classes)
        # The DCGAN init (N(0, 0.02)) would shrink the text embedding to nothing beside z: PyTorch's own
        # init for the text encoders (the spectral norm, when on, wraps the weights and keeps working).
        for net in (self.G, self.D):
            for m in net.text.modules():
                if isinstance(m, (nn.Embedding, nn.Conv1d, nn.Linear, nn.LayerNorm)):
                    m.reset_parameters()
        if cfg.ema is not None:
            self.G_ema.load_state_dict(self.G.state_dict())

    def fit_data(self, train, to_model, class_names: Optional[list[str]] = None, labels=None) -> None:
        """Keep the captions (the data's class names) as bytes in both networks."""
        if not class_names:
            raise ConfigError(
                "text2image needs captioned data (captions.csv beside the images, or fashion-mnist-captions)"
            )
        table = caption_bytes(class_names, self.cfg.max_caption_bytes).to(self.device)
        for net in (self.G, self.D, getattr(self, "G_ema", None)):
            if net is not None:
                net.captions.copy_(table)

    def prompt_condition(self, prompt: str, n: int) -> torch.Tensor:
        return caption_bytes([prompt], self.cfg.max_caption_bytes, "prompt").expand(n, -1).to(self.device)
