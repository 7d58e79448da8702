"""The interface every modality implements, and the modality registry.

A modality is what the core asks about a kind of data (images, text, ...): how a
data set is loaded and stored, how a stored batch becomes a model input and a
model's output becomes stored samples, how samples are written, previewed in a
report, answered by the server, embedded for evaluation and compared for
memorization. Trainer, sampler, evaluator, report and server hold no
modality-specific code: they call these methods.

Three forms of data travel through the core:

- stored: what a data set holds and `samples` are in, as a tensor (images: uint8
  [N, C, H, W]; text: int64 token ids [N, L], EOS-terminated, 0-padded);
- model input: `to_model(stored)` (images: float in [-1, 1]; text: the ids);
- samples: what a user gets, `to_samples(stored, codec)` (images: uint8 NHWC
  numpy; text: a list of strings). The codec is what turns stored into samples
  (text: the run's tokenizer; images: nothing).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any, ClassVar, Optional

import torch
from torch import nn

from ..config import BaseDataConfig
from ..errors import DataError
from ..registry import Registry
from .manifest import provide

MODALITIES: Registry["Modality"] = Registry("modality", provide)


def register_modality(cls: type["Modality"]) -> type["Modality"]:
    """Class decorator: register one instance of the modality under its name."""
    MODALITIES.register(cls.name)(cls())
    return cls


class Modality:
    name: ClassVar[str]
    DataConfig: ClassVar[type[BaseDataConfig]]
    unit: ClassVar[str]  # what one sample is called in messages: image, text, clip

    @property
    def units(self) -> str:
        """The plural of `unit` (a modality whose plural is not unit + "s" sets its own)."""
        return self.unit + "s"

    default_samples: ClassVar[int]  # samples an evaluation draws by default
    out_help: ClassVar[str]  # what `genforge sample --out` accepts
    preview_suffix: ClassVar[str]  # file type of the training previews in RUN/samples/
    preview_media: ClassVar[str]  # their media type, as the server sends them
    preview_count: ClassVar[int]  # samples a report or grid shows at once
    formats: ClassVar[tuple[str, ...]]  # the server's response formats, the default first
    extensions: ClassVar[tuple[str, ...]] = ()  # the file suffixes `from_upload` reads (lower case)
    restorable: ClassVar[bool] = False  # whether `genforge restore` (inpainting, super-resolution) serves it
    # the `--out` of `write` that gives one item a file or a line (a folder: "") for the generation log
    item_files: ClassVar[str] = ""

    @property
    def widget(self) -> str:
        """The server page's widget, `widget.js` in the modality's folder: a JS object literal with `what` (a phrase
        for the info line), `show(box, url, role)` (fetch an answer and show it in the element `box`; role:
        generate, interpolate or a panel's), `preview(box, response)` (a training preview), and optionally
        `controls` (HTML), `query()` (their query string), `panels(info)` (HTML of extra panels for a model) and
        `bind(info)` (wire them up). The page's helpers $, esc, ok, fail, fetchOk, m and cls are in scope."""
        return (Path(inspect.getfile(type(self))).parent / "widget.js").read_text()

    # -- data
    def load(self, cfg: BaseDataConfig, run: Optional[Path] = None):
        """The preprocessed data set of `cfg`; a run directory's own artefacts (a tokenizer) are reused."""
        raise NotImplementedError

    def save_codec(self, codec: Any, folder: Path) -> None:
        """Write what turns stored outputs into samples (a tokenizer) into a run or export folder (default: nothing)."""

    def codec(self, run: Path) -> Any:
        """What `to_samples` needs, read from a run directory (default: nothing)."""
        return None

    def report(self, data) -> dict:
        """A JSON-ready validation summary of the data set."""
        raise NotImplementedError

    def format_report(self, rep: dict) -> str:
        raise NotImplementedError

    # -- conversion
    def to_model(self, stored: torch.Tensor) -> torch.Tensor:
        """A stored batch -> the model's input."""
        raise NotImplementedError

    def to_stored(self, out: torch.Tensor) -> torch.Tensor:
        """A model's decoded output -> stored form, on the CPU."""
        raise NotImplementedError

    def to_samples(self, stored: torch.Tensor, codec: Any = None):
        """Stored form -> what a user gets."""
        raise NotImplementedError

    def reread(self, stored: torch.Tensor, codec: Any = None) -> torch.Tensor:
        """A model's stored samples as `read` would store them from a file `write` wrote, so that the evaluation
        of a run judges what its user gets (text: re-tokenized; default: unchanged)."""
        return stored

    def data_figures(self, rep: dict) -> str:
        """HTML figures of a data report beyond the shared tables (default: none)."""
        return ""

    def concat(self, parts: list):
        """One sample collection from several (numpy arrays stack; lists join)."""
        return [s for p in parts for s in p]

    # -- output
    def write(
        self, samples, out: str | Path, labels=None, nrow: Optional[int] = None, class_names: Optional[list[str]] = None
    ) -> Path:
        """Store samples (with label indices, if any) at `out`; the suffix picks the format."""
        raise NotImplementedError

    def read(self, path: Path, data) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """A samples file written by `write` (or by other tools in its formats) -> (stored, labels or None),
        fitted to `data` (text is tokenized with its tokenizer); errors name the file."""
        raise NotImplementedError

    def preview(self, samples, nrow: Optional[int] = None, labels: Optional[list[str]] = None) -> bytes:
        """The bytes of one preview file (a PNG grid; a text list)."""
        raise NotImplementedError

    def html(self, samples, nrow: Optional[int] = None, labels: Optional[list[str]] = None, caption: str = "") -> str:
        """An HTML fragment showing samples in a self-contained report."""
        raise NotImplementedError

    def preview_html(self, blob: bytes, caption: str) -> str:
        """An HTML fragment showing one training preview file (as `preview` wrote it)."""
        raise NotImplementedError

    def response(self, samples, fmt: str, nrow: Optional[int] = None, labels=None):
        """The server's answer for samples, as a starlette Response."""
        raise NotImplementedError

    def input_files(self, path: Path, what: str) -> list[Path]:
        """The files of folder `path` with this modality's `extensions` (sorted), or the file `path` itself; none is
        an error that names the path and the suffixes expected (`what`: the role of the path, e.g. --input)."""
        path = Path(path)
        if not path.exists():
            raise DataError(f"{what} {path}: no such file or folder")
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in self.extensions) if path.is_dir() else [path]
        if not files:
            raise DataError(f"{what} {path}: no {self.unit} files in it (expected {', '.join(self.extensions)})")
        return files

    def from_upload(self, body: bytes, shape, codec: Any = None) -> torch.Tensor:
        """An uploaded file's bytes -> stored form [1, ...] fitting a model of `shape`;
        raises ValueError (or OSError) with a reason when the bytes are not of this modality."""
        raise NotImplementedError

    # -- evaluation
    # whether `--extractor FILE` (a TorchScript network of model inputs, e.g. an Inception) serves this modality
    takes_torchscript_extractor: ClassVar[bool] = False

    @property
    def extractor_recipe(self) -> dict:
        """What a trained extractor's cache key adds for this modality (its name)."""
        return {"modality": self.name}

    def sanity_conditions(self, data, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
        """name -> stored 'samples' (up to n each) whose fault is known, the held-out floor first, for the
        sanity table: a trustworthy metric orders them as expected."""
        raise NotImplementedError

    def backbone(self, data) -> nn.Module:
        """A fresh feature network for this data: model input [B, ...] -> features [B, d]."""
        raise NotImplementedError

    def augment(self, x: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
        """Random views of model inputs for extractor training (strength 0.1: light; 1.0: contrastive)."""
        raise NotImplementedError

    def memo_vectors(self, stored: torch.Tensor, codec: Any = None) -> torch.Tensor:
        """Vectors [N, d] whose L2 distance says how close two items are, for near-copy detection."""
        raise NotImplementedError

    # -- safety
    def screen(self, samples, block_list: Optional[Path] = None) -> list[str]:
        """Why each sample (user form) must not be published, "" where it may: the sampling guard redraws the
        others (text: offensive language). Default: every sample passes."""
        return [""] * len(samples)


def modality_of(family) -> Modality:
    """The modality of a family class or model instance."""
    return MODALITIES.get(family.modality)


def random_rows(x: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """Up to n rows of x in a seeded random order (sanity conditions draw their items with it)."""
    return x[torch.randperm(len(x), generator=generator)[: min(n, len(x))]]


def class_labels(labels, class_names: Optional[list[str]]) -> Optional[list[str]]:
    """Label indices -> names (or index strings), for previews, tables and responses."""
    if labels is None:
        return None
    return [str(class_names[int(i)]) if class_names else str(int(i)) for i in labels]


def file_tag(labels, i: int, class_names: Optional[list[str]]) -> str:
    """The `_class` part of sample i's file name in a folder of samples ("" without labels); characters that
    do not belong in a file name (the slash of "T-shirt/top") become '-'."""
    if labels is None:
        return ""
    name = str(class_names[int(labels[i])]) if class_names else str(int(labels[i]))
    return "_" + re.sub(r"[^\w.-]+", "-", name)
