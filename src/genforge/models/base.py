"""The interface every model family implements, and the family registry.

A family is an nn.Module holding all its networks. It declares its modality
(what its inputs and outputs are: see `modalities/`) and its abilities; the core
asks those and never probes attributes. The trainer only calls
`configure_optimizers`, `train_step` and, on several processes, `distribute`; sampling and export only call `prior`,
`decode` and `exportable`; evaluation calls `own_figures`.

Abilities: `interpolate` (a latent space to walk between two samples), `traverse` (one worth walking one dimension
at a time) and `conditional` (can be trained on class labels) need no method of their own; the others are the
mixins of `abilities.py` (reconstruct, likelihood, critic, prompt, answer, from_data, paired, translate), which a family
inherits exactly when it declares the ability (the family tests check both agree).
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Optional

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ..config import StrictModel
from ..errors import ConfigError
from ..modalities.manifest import provide
from ..registry import Registry

FAMILIES: Registry[type["Family"]] = Registry("model family", provide)


def stages(resolution: int) -> tuple[int, int]:
    """(base, n): halve while even and >= 8, so base * 2**n == resolution, base in 4..7 or odd.

    28 -> (7, 2) is the article's 7x7 start with two stride-2 layers;
    32 -> (4, 3), 64 -> (4, 4), 128 -> (4, 5), 8 -> (4, 1).
    """
    base, n = resolution, 0
    while base % 2 == 0 and base >= 8:
        base, n = base // 2, n + 1
    return base, n


# the layers an init scheme sets (convolutions of every dimension, dense layers, embeddings)
WEIGHTED = (
    *(nn.Conv1d, nn.ConvTranspose1d, nn.Conv2d, nn.ConvTranspose2d, nn.Conv3d, nn.ConvTranspose3d),
    *(nn.Linear, nn.Embedding),
)


def init_weights(module: nn.Module, scheme: str) -> None:
    """'torch' keeps PyTorch's defaults; 'glorot' is Keras' default (the article's code);
    'dcgan' is N(0, 0.02) as in Radford et al."""
    if scheme == "torch":
        return
    for m in module.modules():
        if isinstance(m, WEIGHTED):
            if scheme == "glorot":
                nn.init.xavier_uniform_(m.weight)
            else:
                nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d) and scheme == "dcgan":
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class ConditionalConfig(StrictModel):
    """The option every family shares: condition on the data's class labels."""

    conditional: bool = Field(False, description="class-conditional model: sample a chosen class (needs labelled data)")


def append_class(h: torch.Tensor, y: Optional[torch.Tensor], n_classes: int) -> torch.Tensor:
    """Features or latents [B, F] -> [B, F + K] with one_hot(y) appended; unchanged when n_classes is 0."""
    if not n_classes:
        return h
    return torch.cat([h, F.one_hot(y, n_classes).to(h.dtype)], 1)


ABILITIES = frozenset(
    {
        "reconstruct",
        "likelihood",
        "traverse",
        "interpolate",
        "conditional",
        "critic",
        "paired",
        "prompt",
        "answer",
        "voice",
        "translate",
        "from_data",
    }
)


class Family(nn.Module):
    name: ClassVar[str]
    Config: ClassVar[type[StrictModel]]
    modality: ClassVar[str] = "image"
    abilities: ClassVar[frozenset[str]] = frozenset()
    # preset name -> {"model": {...}, "train": {...}} overrides of the defaults
    presets: ClassVar[dict[str, dict]]
    default_preset: ClassVar[str] = "default"
    # A time budget and no preset named: (budget in minutes from which it applies, preset) pairs, ascending,
    # each the measured best from there on (docs/optimization.md); below the first, `default_preset`.
    budget_presets: ClassVar[tuple[tuple[float, str], ...]] = ()
    # --set items that make a tiny, fast model (the shared family tests train it on real data)
    tiny: ClassVar[tuple[str, ...]] = ()
    # the tuner's default search space: config key -> optuna parameter spec (see tune/space.py)
    search_space: ClassVar[dict[str, dict]] = {}
    optimizer: ClassVar[str] = "model"  # the name of the single optimizer in train_state.pt
    # What DistributedDataParallel wraps when training on several processes: named networks that train_step
    # calls through `through(name)`, or "" for the whole family, whose train_step calls `through()(method, ...)`.
    ddp_units: ClassVar[tuple[str, ...]] = ("",)
    # what turns the model's stored outputs into samples (a tokenizer), set by the trainer and by `run.load`;
    # None for a model built alone
    codec: Any = None
    # the run directory a model was loaded from, its config and its data's summary (`run.load`); None alone
    run_dir: Any = None
    run_config: Any = None
    dataset_info: Optional[dict] = None

    @classmethod
    def preset_for_budget(cls, minutes: Optional[float]) -> str:
        """The preset measured best for a training budget of `minutes` (None: no time budget)."""
        chosen = cls.default_preset
        for start, preset in cls.budget_presets:
            if minutes is not None and minutes >= start:
                chosen = preset
        return chosen

    def __init__(self, cfg, shape: tuple[int, int, int], n_classes: int = 0):
        super().__init__()
        self.cfg, self.shape, self.n_classes = cfg, tuple(shape), n_classes
        self.conditional = bool(getattr(cfg, "conditional", False))
        if self.conditional:
            if n_classes < 2:
                raise ConfigError(
                    f"model.conditional=true needs labelled data with at least 2 classes; "
                    f"this data set has {n_classes or 'no'} labels"
                )
            # Class shares of the training split (the trainer fills them in); unpinned samples draw
            # their labels from these, so a conditional model samples the data's class mix.
            self.register_buffer("class_freq", torch.full((n_classes,), 1.0 / n_classes))

    @property
    def cond_classes(self) -> int:
        """Number of classes the networks are conditioned on (0 for an unconditional model)."""
        return self.n_classes if self.conditional else 0

    def labels(
        self, n: int, generator: Optional[torch.Generator] = None, label: Optional[int] = None
    ) -> Optional[torch.Tensor]:
        """Class labels [n] for a conditional model, None for an unconditional one: all `label`,
        or drawn from the training class shares with `generator`."""
        if not self.conditional:
            if label is not None:
                raise ConfigError(
                    "a class was asked for, but this model is unconditional (train with model.conditional=true)"
                )
            return None
        if label is not None:
            if not 0 <= label < self.n_classes:
                raise ConfigError(f"class index {label} is out of range 0..{self.n_classes - 1}")
            return torch.full((n,), label, dtype=torch.long, device=self.device)
        y = torch.multinomial(self.class_freq.float().cpu(), n, replacement=True, generator=generator)
        return y.to(self.device)

    def _need_labels(self, y: Optional[torch.Tensor]) -> None:
        if self.conditional and y is None:
            raise ValueError("a conditional model needs class labels y [N] to decode")

    @property
    def latent_dim(self) -> int:
        """Size of the latent the prior draws (the config's `latent_dim`)."""
        return self.cfg.latent_dim

    def configure_optimizers(self, t) -> dict[str, torch.optim.Optimizer]:
        """One Adam over every parameter, named `optimizer` (families with several networks override)."""
        return {self.optimizer: torch.optim.Adam(self.parameters(), lr=t.lr, betas=tuple(t.betas))}

    def forward(self, method: str, *args, **kwargs):
        """`family(method, ...)` runs `family.method(...)`: a training computation called through the module, so
        that a DistributedDataParallel wrapper of the whole family sees its forward and backward."""
        return getattr(self, method)(*args, **kwargs)

    def distribute(self, wrap: Callable[[nn.Module], nn.Module]) -> None:
        """Wrap each of `ddp_units` with `wrap` (DistributedDataParallel). The wrappers are kept outside the
        module tree, so state dicts, checkpoints and exports keep their keys."""
        self.__dict__["_wrapped"] = {n: wrap(getattr(self, n) if n else self) for n in self.ddp_units}

    def undistribute(self) -> None:
        """Drop the wrappers `distribute` made; called before the process group is destroyed (a wrapper
        destroyed after its group can block the process at exit)."""
        self.__dict__.pop("_wrapped", None)

    def through(self, name: str = "") -> nn.Module:
        """The network `name` (the whole family for "") as train_step must call it: its DistributedDataParallel
        wrapper when training on several processes, else the network itself."""
        wrapped = self.__dict__.get("_wrapped", {})
        return wrapped[name] if name in wrapped else (getattr(self, name) if name else self)

    def training_labels(self, data, device) -> Optional[torch.Tensor]:
        """What train_step gets as y with each batch of the training split `data` holds: its classes [N] (None if
        unlabelled) by default; a family that learns from more of each item's labels (voice-vae: the speaker too)
        gives [N, k]."""
        return data.labels("train", device)

    def fit_data(
        self,
        train: torch.Tensor,
        to_model: Callable[[torch.Tensor], torch.Tensor],
        class_names: Optional[list[str]] = None,
        labels: Optional[torch.Tensor] = None,
    ) -> None:
        """Data-dependent set-up before a fresh run's first step (normalisation statistics, a caption table kept
        in buffers); `train` is the training split in stored form, `to_model` converts a chunk of it,
        `class_names` names the labels, `labels` [N] are the items' classes (None if unlabelled). Default:
        nothing."""

    def finish_training(
        self,
        train: torch.Tensor,
        labels: Optional[torch.Tensor],
        to_model: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        """Data-dependent set-up after the last step of a finished run, before its final checkpoint (a sampling
        prior fitted to the trained encoder's codes); `train` and `to_model` as in `fit_data`, `labels` [N] or None.
        Default: nothing."""

    def train_step(self, x: torch.Tensor, y: Optional[torch.Tensor], opts: dict) -> dict[str, torch.Tensor]:
        """One optimisation step on a batch x [B, C, H, W] in [-1, 1]; returns detached losses."""
        raise NotImplementedError

    def decode(
        self, z: torch.Tensor, y: Optional[torch.Tensor] = None, generator: Optional[torch.Generator] = None
    ) -> torch.Tensor:
        """Latents [N, latent_dim] (and labels [N] if conditional) -> outputs in the modality's model form
        (images [N, C, H, W] in [-1, 1]); `generator` seeds any sampling a decoder does (text)."""
        self._need_labels(y)
        return self.exportable()(z, y)

    def exportable(self) -> nn.Module:
        """A module holding only the generator/decoder: (z [N, D], y [N] or None) -> images in [-1, 1]."""
        raise NotImplementedError

    def export_example(self) -> tuple[tuple, list[str], list[str], list[int]]:
        """(example inputs at batch 2, input names, output names, each input's batch dimension) of `exportable()`."""
        z = torch.randn(2, self.latent_dim)
        if self.conditional:
            return (z, torch.arange(2) % self.n_classes), ["z", "y"], ["images"], [0, 0]
        return (z,), ["z"], ["images"], [0]

    def own_figures(self, data, extractor, names: list[str], seed: int = 0) -> dict:
        """Figures only this family's ability gives (translation: per direction, beside baselines), for those of
        `names` it registered; `data` is the run's data set, `extractor` the evaluation's. Default: none."""
        return {}

    def prior(
        self, n: int, generator: Optional[torch.Generator] = None, labels: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """n latents from the prior, on the model's device: N(0, I), or a family's own (which may depend on the
        classes `labels` [n] the latents are for)."""
        z = torch.randn(n, self.latent_dim, generator=generator)
        return z.to(self.device)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def sample_with_labels(
        self,
        n: int,
        seed: Optional[int] = 0,
        batch_size: int = 512,
        label: Optional[int] = None,
        prompt: Optional[str] = None,
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """(outputs [n, ...] in the model form, labels [n] or None); the same seed gives the same samples.
        A conditional model samples class `label`, or the training class mix when it is None; a model with
        `prompt` samples a free-text prompt (no labels then)."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        if prompt is not None and "prompt" not in self.abilities:
            raise ConfigError(f"{self.name} takes no text prompt (train a text2image model on captioned images)")
        y = self.labels(n, gen, label) if prompt is None else self.prompt_condition(prompt, n)
        z = self.prior(n, gen, y if prompt is None else None)
        return self.decode_batches(z, y, batch_size, gen), (y if prompt is None else None)

    @torch.no_grad()
    def decode_batches(
        self,
        z: torch.Tensor,
        y: Optional[torch.Tensor] = None,
        batch_size: int = 512,
        generator: Optional[torch.Generator] = None,
    ) -> torch.Tensor:
        """`decode` of latents z [N, D] (and labels y [N]) `batch_size` at a time, in eval mode."""
        ys = [None] * len(z.split(batch_size)) if y is None else y.split(batch_size)
        was_training = self.training
        self.eval()
        out = torch.cat([self.decode(zc, yc, generator) for zc, yc in zip(z.split(batch_size), ys)])
        self.train(was_training)
        return out

    def sample(
        self,
        n: int,
        seed: Optional[int] = 0,
        batch_size: int = 512,
        label: Optional[int] = None,
        prompt: Optional[str] = None,
    ) -> torch.Tensor:
        """n outputs in the model form (images [n, C, H, W] in [-1, 1]); the same seed gives the same ones."""
        return self.sample_with_labels(n, seed, batch_size, label, prompt)[0]
