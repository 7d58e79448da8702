"""Registers the image modality, its sources (in probe order), families and metrics."""

from ... import models  # noqa: F401  (the shared families dcgan and vae generate images)
from . import (  # noqa: F401
    arrays,
    builtin,
    captions,
    cyclegan,
    folder,
    idx,
    modality,
    pix2pix,
    text2image,
    translation_metrics,
    unpaired,
)
