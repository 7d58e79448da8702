"""`.npz` / `.npy` image arrays: uint8 or float, NHWC or NCHW, optional labels."""

from __future__ import annotations

import tokenize
import zipfile
from pathlib import Path

import numpy as np

from ...data.base import RawData, as_labels, as_uint8_nhwc, register_source
from ...errors import DataError

IMAGE_KEYS = ("images", "x", "x_train", "arr_0")
LABEL_KEYS = ("labels", "y", "y_train")
TEST_KEYS = (("test_images", "test_labels"), ("x_test", "y_test"))


def _is_array_file(spec: str) -> bool:
    return spec.lower().endswith((".npz", ".npy")) and Path(spec).is_file()


# What numpy raises for a damaged file: a header that does not parse goes through tokenize and
# ast.literal_eval; a header declaring a huge shape asks for more memory than there is.
READ_ERRORS = (OSError, ValueError, zipfile.BadZipFile, EOFError, SyntaxError, tokenize.TokenError, MemoryError)


@register_source(
    "arrays", _is_array_file, "a .npz (keys images[, labels, test_images, test_labels]) or .npy file", modality="image"
)
def load_arrays(spec, cfg) -> RawData:
    path = Path(spec)
    try:
        # allow_pickle=False: a data file never runs code.
        loaded = np.load(path, allow_pickle=False)
    except READ_ERRORS as e:
        raise DataError(f"{path}: cannot read array file ({e})") from None
    if isinstance(loaded, np.ndarray):
        return RawData(name=path.stem, train=as_uint8_nhwc(loaded, str(path)))
    with loaded:
        keys = set(loaded.files)
        img_key = next((k for k in IMAGE_KEYS if k in keys), None)
        if img_key is None:
            raise DataError(
                f"{path}: no image array; expected one of the keys {', '.join(IMAGE_KEYS)}, found {sorted(keys)}"
            )
        try:
            out = RawData(name=path.stem, train=as_uint8_nhwc(loaded[img_key], f"{path}[{img_key}]"))
            lab_key = next((k for k in LABEL_KEYS if k in keys), None)
            if lab_key:
                out.train_labels = as_labels(loaded[lab_key], len(out.train), f"{path}[{lab_key}]")
            for ti, tl in TEST_KEYS:
                if ti in keys:
                    out.test = as_uint8_nhwc(loaded[ti], f"{path}[{ti}]")
                    if tl in keys:
                        out.test_labels = as_labels(loaded[tl], len(out.test), f"{path}[{tl}]")
                    break
        except READ_ERRORS as e:
            raise DataError(f"{path}: array data is corrupt ({e})") from None
    if out.train_labels is not None:
        hi = int(out.train_labels.max())
        if out.test_labels is not None:
            hi = max(hi, int(out.test_labels.max()))
        out.class_names = [str(i) for i in range(hi + 1)]
    if (out.test is None) != (out.test_labels is None) and out.train_labels is not None:
        raise DataError(f"{path}: the train split has labels but the test split has none (or the reverse)")
    return out
