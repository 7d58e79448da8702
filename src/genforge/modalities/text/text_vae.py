"""The sentence VAE (Bowman et al. 2016), with the known fixes for posterior collapse as options.

    encoder: ids [B, L] -> embed [B, L, E] -> GRU or LSTM (optionally bidirectional) -> last state(s)
             [B, H or 2H] (+ one_hot(y)) -> mu, logvar [B, D]
    decoder: z ~ q(z|x) (+ one_hot(y)) fed at every step of a recurrent language model (sentence.py)

A plain ELBO lets the strong autoregressive decoder ignore z (KL -> 0). Fixes, each
a config option and all off in the `article` preset:
- KL annealing: `kl_anneal=monotonic` ramps beta 0 -> 1 over `kl_anneal_steps`;
  `cyclical` repeats that ramp (first half of each period) every `kl_anneal_steps`
  (Fu et al. 2019);
- word dropout (Bowman): decoder inputs become UNK with probability `word_dropout`;
- free bits (Kingma et al. 2016): per-dimension KL below `free_bits` nats is free;
- encoder pre-training (Li et al. 2019): `ae_pretrain` steps with beta 0 (an
  autoencoder), then the decoder is re-initialised and the VAE trains on;
- bag-of-words loss (Zhao et al. 2017): z must also predict the sentence's pieces
  in any order (`bow_weight`).
"""

from __future__ import annotations

from typing import Literal, Optional

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ...losses.vae import kl_per_dim
from ...models.abilities import Likelihood, Reconstructs
from ...models.base import FAMILIES, ConditionalConfig, Family, append_class
from ...models.latent_prior import FittedPrior, PriorOptions, mixture_for
from .figures import text_figures
from .lexicon import Lexicon, SpellsKnownWords
from .sentence import Cell, SentenceDecoder, generate, last_hidden, recurrent, run_rnn
from .textset import EOS, PAD


class TextSamplingConfig(ConditionalConfig):
    """Options every text family shares: how samples are drawn."""

    temperature: float = Field(1.0, ge=0, description="sampling temperature; 0 is greedy decoding")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling: keep the most likely pieces up to this mass")
    known_words: bool = Field(
        True,
        description="sample only words the training text has: pieces that would spell another word are masked at "
        "each step (docs/text.md, 'Spelling only known words'); text written without spaces, and runs saved "
        "before runs kept their training text's words, sample unconstrained",
    )
    embed: int = Field(256, ge=8, description="token embedding size")
    hidden: int = Field(256, ge=8, description="recurrent state size")
    layers: int = Field(1, ge=1, le=4, description="decoder recurrent layers")
    cell: Cell = Field("gru", description="recurrent cell of the encoder and decoder: gru or lstm (MusicVAE's)")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on decoder embeddings and outputs")
    adaptive_softmax: bool = Field(
        False,
        description="the decoder's output layer as an adaptive softmax (Grave et al. 2017): the most frequent "
        "eighth of the pieces at full width, the rest in two narrower clusters; less work per step at a large "
        "vocabulary",
    )


class TextVAEConfig(TextSamplingConfig, PriorOptions):
    latent_dim: int = Field(32, ge=1, description="latent size")
    beta: float = Field(1.0, ge=0, description="weight of the KL term once annealed (1 = the ELBO)")
    kl_anneal: Literal["none", "monotonic", "cyclical"] = Field("none", description="KL weight schedule")
    kl_anneal_steps: int = Field(
        2000, ge=1, description="monotonic: ramp length; cyclical: period (ramp in its first half)"
    )
    word_dropout: float = Field(0.0, ge=0, le=1, description="share of decoder input pieces replaced by UNK")
    free_bits: float = Field(0.0, ge=0, description="nats per latent dimension (batch mean) below which KL is free")
    ae_pretrain: int = Field(
        0, ge=0, description="steps trained as an autoencoder (beta 0) before the decoder is reset"
    )
    bow_weight: float = Field(0.0, ge=0, description="weight of the bag-of-words loss from z")
    bidirectional: bool = Field(False, description="read the sentence both ways in the encoder (twice the work)")
    encoder_hidden: Optional[int] = Field(
        None, ge=8, description="the encoder's recurrent state size (none: the decoder's `hidden`)"
    )


class Encoder(nn.Module):
    """Reads a sentence through the decoder's embedding (shared, as in Bowman et al.), passed to forward
    so that the weights are stored once."""

    def __init__(self, cfg: TextVAEConfig, n_classes: int):
        super().__init__()
        self.n_classes = n_classes
        hidden = cfg.encoder_hidden or cfg.hidden
        self.rnn = recurrent(cfg.cell, cfg.embed, hidden, bidirectional=cfg.bidirectional)
        width = (2 if cfg.bidirectional else 1) * hidden + n_classes
        self.mu = nn.Linear(width, cfg.latent_dim)
        self.logvar = nn.Linear(width, cfg.latent_dim)

    def forward(self, embed: nn.Embedding, x, y=None):
        lengths = (x != PAD).sum(1).clamp_min(1).cpu()
        if bool((lengths == x.shape[1]).all()):  # no padding (melodies are all one length): packing only costs
            _, h = run_rnn(self.rnn, embed(x))
        else:
            packed = nn.utils.rnn.pack_padded_sequence(embed(x), lengths, batch_first=True, enforce_sorted=False)
            _, h = run_rnn(self.rnn, packed)
        h = last_hidden(self.rnn, h)  # [directions, B, H]: the last state of each direction
        h = append_class(torch.cat(list(h), 1), y, self.n_classes)  # [B, directions * H (+ K)]
        return self.mu(h), self.logvar(h)  # [B, D] each


@FAMILIES.register("text-vae")
class TextVAE(Reconstructs, Likelihood, SpellsKnownWords, FittedPrior, Family):
    name = "text-vae"
    Config = TextVAEConfig
    modality = "text"
    abilities = frozenset({"reconstruct", "likelihood", "interpolate", "conditional"})
    tiny = ("model.embed=32", "model.hidden=32", "model.latent_dim=8")
    presets = {
        # What the article describes: a VAE on text with the plain ELBO, none of the collapse fixes.
        "article": {"model": {}, "train": {"lr": 1e-3, "betas": [0.9, 0.999], "batch_size": 64}},
        # Chosen on the English fortunes (docs/text.md): cyclical KL annealing, free bits and the
        # bag-of-words loss keep every latent dimension in use. Free bits of 0.16 nats a dimension hold the
        # KL at 5 nats or more without word dropout, which cost the decoder 5 nats of likelihood at 10
        # CPU-minutes; dropout 0.3 as in text-lm's default, against overfitting on small data. A 128-unit
        # encoder (the decoder keeps 256): the VAE then makes 90% of text-lm's steps, not 72%, and ends 0.5 to
        # 0.9 nats behind it. Prior samples from a mixture fitted to draws from the training sentences'
        # posteriors: English FD within text-lm's spread over sample seeds, where N(0, I) gave 1.6x. Nucleus
        # sampling at 0.95: on the Chinese fortunes 0.9 cuts off the rare characters (FD 0.27-0.47 against
        # 0.89-0.91 at 0.9; as at top-p 1), and fewer invented words than top-p 1 (docs/text.md).
        "default": {
            "model": {
                "kl_anneal": "cyclical",
                "kl_anneal_steps": 400,
                "free_bits": 0.16,
                "bow_weight": 0.5,
                "dropout": 0.3,
                "top_p": 0.95,
                "encoder_hidden": 128,
                "prior": "gmm",
                "prior_components": 20,
            },
            "train": {"lr": 1e-3, "betas": [0.9, 0.999], "batch_size": 64},
        },
    }
    optimizer = "vae"
    search_space = {
        "train.lr": {"type": "float", "low": 3e-4, "high": 3e-3, "log": True},
        "train.batch_size": {"type": "categorical", "choices": [32, 64, 128]},
        "model.latent_dim": {"type": "categorical", "choices": [16, 32, 64]},
        "model.hidden": {"type": "categorical", "choices": [128, 256, 512]},
        "model.word_dropout": {"type": "float", "low": 0.0, "high": 0.5},
        "model.free_bits": {"type": "categorical", "choices": [0.0, 0.05, 0.1, 0.25]},
        "model.kl_anneal": {"type": "categorical", "choices": ["none", "monotonic", "cyclical"]},
        "model.bow_weight": {"type": "categorical", "choices": [0.0, 0.5, 1.0]},
    }

    def __init__(self, cfg: TextVAEConfig, shape, n_classes: int = 0):
        super().__init__(cfg, shape, n_classes)
        vocab, self.length = self.shape
        k = self.cond_classes
        self.decoder = self.make_decoder(vocab, cfg.latent_dim + k)
        self.encoder = Encoder(cfg, k)
        self.lexicon = Lexicon()
        self.bow = (
            nn.Sequential(nn.Linear(cfg.latent_dim + k, cfg.hidden), nn.Tanh(), nn.Linear(cfg.hidden, vocab))
            if cfg.bow_weight
            else None
        )
        self.gmm = mixture_for(cfg, cfg.latent_dim, k)
        # steps taken, for the schedules: a buffer so that a resumed run continues them exactly
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))

    def make_decoder(self, vocab: int, cond_dim: int) -> nn.Module:
        """The autoregressive decoder of p(x | z, y)."""
        c = self.cfg
        return SentenceDecoder(vocab, c.embed, c.hidden, cond_dim, c.layers, c.dropout, c.cell, c.adaptive_softmax)

    def encode(self, x, y=None):
        """Token ids [B, L] (labels [B] if conditional) -> (mu, logvar), each [B, D]."""
        self._need_labels(y)
        return self.encoder(self.decoder.embed, x, y)

    def kl_weight(self, step: int) -> float:
        """beta at `step` under the configured schedule (0 during encoder pre-training)."""
        c = self.cfg
        if step < c.ae_pretrain:
            return 0.0
        step -= c.ae_pretrain
        if c.kl_anneal == "monotonic":
            return c.beta * min(1.0, (step + 1) / c.kl_anneal_steps)
        if c.kl_anneal == "cyclical":
            return c.beta * min(1.0, 2.0 * (step % c.kl_anneal_steps + 1) / c.kl_anneal_steps)
        return c.beta

    def train_step(self, x, y: Optional[torch.Tensor], opts):
        c, step = self.cfg, int(self.steps_done)
        if c.ae_pretrain and step == c.ae_pretrain:  # Li et al.: keep the pre-trained encoder, reset the decoder
            for m in self.decoder.modules():
                if m is not self.decoder.embed and hasattr(m, "reset_parameters"):
                    m.reset_parameters()
                    for p in m.parameters(recurse=False):
                        opts["vae"].state.pop(p, None)
        self.steps_done += 1
        loss, out = self.through()("losses", x, y if self.conditional else None, step)
        opts["vae"].zero_grad(set_to_none=True)
        loss.backward()
        opts["vae"].step()
        return {k: v.detach() for k, v in out.items()}

    def losses(self, x, y: Optional[torch.Tensor], step: int) -> tuple[torch.Tensor, dict]:
        """(the loss to minimise, its parts) for token ids x [B, L] at training step `step`."""
        c = self.cfg
        mu, logvar = self.encode(x, y)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()  # reparameterisation trick
        cond = append_class(z, y, self.cond_classes)
        recon = self.decoder.nll(x, cond, c.word_dropout).mean()  # nats per sentence
        kl_d = kl_per_dim(mu.float(), logvar.float()).mean(0)  # [D]
        kl = kl_d.sum()
        penalised = kl_d.clamp(min=c.free_bits).sum() if c.free_bits else kl
        loss = recon + self.kl_weight(step) * penalised
        out = {"loss": loss, "recon": recon, "kl": kl}
        if self.bow is not None:
            logp = F.log_softmax(self.bow(cond).float(), 1)  # [B, V]
            bow = -(logp.gather(1, x) * (x > EOS)).sum(1).mean()
            loss = loss + c.bow_weight * bow
            out["bow"] = bow
        return loss, out

    def decode(self, z, y=None, generator=None):
        """Latents [N, D] -> token ids [N, L]: sampled with the configured temperature and top-p from
        `generator`, or greedy when there is none (interpolation paths, Bowman's homotopies)."""
        self._need_labels(y)
        t = self.cfg.temperature if generator is not None else 0.0
        return generate(
            self.decoder,
            append_class(z, y, self.cond_classes),
            len(z),
            self.length,
            t,
            self.cfg.top_p,
            generator,
            z.device,
            self.spelling(),
        )

    def reconstruct(self, x, y=None):
        """Token ids -> greedy decoding from the posterior mean."""
        mu = self.encode(x, y)[0]
        return generate(
            self.decoder,
            append_class(mu, y, self.cond_classes),
            len(x),
            self.length,
            0.0,
            1.0,
            None,
            x.device,
            self.spelling(),
        )

    def held_out_loss(self, x, y=None):
        """The negative ELBO (one posterior sample, beta 1, no free bits), nats per sentence, batch mean."""
        mu, logvar = self.encode(x, y)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return (self.decoder.nll(x, append_class(z, y, self.cond_classes)) + kl_per_dim(mu, logvar).sum(1)).mean()

    def log_likelihood_terms(self, x, y, z):
        """log p(x | z) per sentence [B] (teacher forcing, no word dropout)."""
        return -self.decoder.nll(x, append_class(z, y, self.cond_classes))

    def extra_figures(self, test, labels, k=32, seed=0):
        return text_figures(self, test, labels, k, seed)

    def exportable(self):
        return self.decoder.step_module()

    def export_example(self):
        z = torch.randn(2, self.latent_dim)
        y = torch.arange(2) % self.n_classes if self.conditional else None
        return self.decoder.step_example(append_class(z, y, self.cond_classes))
