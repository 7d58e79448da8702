"""Translate image files from one domain to the other with a trained translation model (CycleGAN).

    genforge translate RUN --input photos/ --out translated/ --direction a2b

Inputs are image files of any size (a file or a folder): each is resized (shorter side) and center-cropped
to the model's size, as its training images were; the translations are PNGs of the inputs' names.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from ..errors import ConfigError, DataError
from ..modalities import modality_of
from ..models import Family
from ..safety.publish import publish

DIRECTIONS = {"a2b": 1, "b2a": 0}  # direction -> target domain (label)


def check_translator(model: Family) -> None:
    """Refuse, by name, a model that does not translate."""
    if "translate" not in model.abilities:
        raise ConfigError(
            f"{model.name} does not translate between domains: train one with --model cyclegan on two domains"
        )


def target_domain(direction: str) -> int:
    """'a2b' -> 1 (domain B), 'b2a' -> 0; anything else is an error naming the value."""
    if direction not in DIRECTIONS:
        raise ConfigError(f"direction {direction!r}: expected one of {', '.join(DIRECTIONS)}")
    return DIRECTIONS[direction]


def read_upload(model: Family, body: bytes, name: str) -> torch.Tensor:
    """An image file's bytes -> stored [1, C, H, W] at the model's size; an unreadable file is named."""
    try:
        return modality_of(model).from_upload(body, model.shape)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"{name}: not a readable image ({e})") from None


def translate_stored(model: Family, stored: torch.Tensor, direction: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Stored images [N, C, H, W] -> (translations, translated back) in stored form."""
    check_translator(model)
    mod = modality_of(model)
    moved, back = model.round_trip(mod.to_model(stored).to(model.device), target_domain(direction))
    return mod.to_stored(moved).cpu(), mod.to_stored(back).cpu()


def translate_files(model: Family, inputs: Path, out: Path, direction: str = "a2b") -> list[Path]:
    """Translate every image file of `inputs` (a file or a folder) and write PNGs of the same names into `out`."""
    check_translator(model)
    target_domain(direction)
    files = modality_of(model).input_files(inputs, "--input")
    stored = torch.cat([read_upload(model, f.read_bytes(), str(f)) for f in files])
    moved, _ = translate_stored(model, stored, direction)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for f, img in zip(files, modality_of(model).to_samples(moved)):
        written.append(out / f"{f.stem}.png")
        Image.fromarray(img[..., 0] if model.shape[0] == 1 else img).save(written[-1])
    publish(model, written, mode=f"translate {direction}")
    return written
