"""Data sets that are always at hand: scikit-learn's digits and Debian's Fashion-MNIST."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...data.base import RawData, register_source
from ...errors import DataError
from .idx import read_idx_folder

FASHION_MNIST_DIR = Path(os.environ.get("GENFORGE_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


@register_source(
    "digits",
    lambda s: s == "digits",
    "scikit-learn's 1,797 real 8x8 digits, always available",
    modality="image",
    licence="CC-BY-4.0 (UCI ML hand-written digits, E. Alpaydin and C. Kaynak; shipped by scikit-learn)",
)
def load_digits(spec, cfg) -> RawData:
    # deferred: scikit-learn is slow to import; only the digits source needs it
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    # Pixel values are 0..16: scale to the full 0..255 range.
    images = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return RawData(
        name="digits",
        train=images,
        train_labels=d.target.astype(np.int64),
        class_names=[str(i) for i in range(10)],
        summary={"origin": "sklearn.datasets.load_digits"},
    )


@register_source(
    "fashion-mnist",
    lambda s: s == "fashion-mnist",
    f"the IDX files in {FASHION_MNIST_DIR}",
    modality="image",
    licence="MIT (Zalando Research; Debian's dataset-fashion-mnist)",
)
def load_fashion_mnist(spec, cfg) -> RawData:
    if not FASHION_MNIST_DIR.is_dir():
        raise DataError(
            f"Fashion-MNIST is not installed: {FASHION_MNIST_DIR} does not exist. "
            "Install it with `apt-get install -y dataset-fashion-mnist`, "
            "or pass a folder of its IDX files with --data /path/to/folder "
            "(or set GENFORGE_FASHION_MNIST)."
        )
    raw = read_idx_folder(FASHION_MNIST_DIR)
    raw.name = "fashion-mnist"
    raw.class_names = list(FASHION_MNIST_CLASSES)
    return raw
