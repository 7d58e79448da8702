"""Generated data inputs for the fuzz campaign: image folders, IDX folders, NPZ/NPY files, text files and
folders, audio folders. Each draws a valid input, then maybe damages or replaces parts of it, and loads it
the way `genforge data inspect` does."""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf
from hypothesis import strategies as st
from PIL import Image

from ..data.inspect import inspect_data
from .cases import Case

MUTATIONS = ("none", "none", "none", "truncate", "flip", "empty", "garbage")


def mutate(data, blob: bytes, kinds=MUTATIONS) -> tuple[bytes, str]:
    """`blob` unchanged, cut short, with bytes changed, emptied or replaced by random bytes."""
    kind = data.draw(st.sampled_from(kinds))
    if kind == "truncate" and blob:
        return blob[: data.draw(st.integers(0, len(blob) - 1))], kind
    if kind == "flip" and blob:
        b = bytearray(blob)
        for _ in range(data.draw(st.integers(1, 8))):
            b[data.draw(st.integers(0, len(b) - 1))] = data.draw(st.integers(0, 255))
        return bytes(b), kind
    if kind == "empty":
        return b"", kind
    if kind == "garbage":
        return data.draw(st.binary(max_size=300)), kind
    return blob, "none"


def hostile_entries(data, root: Path) -> list[str]:
    """Maybe a symlink loop, a dangling link, a folder named like an image, an unreadable file."""
    made = []
    if data.draw(st.booleans()) and data.draw(st.booleans()):
        os.symlink(root, root / "loop")
        made.append("symlink loop")
    if data.draw(st.integers(0, 5)) == 0:
        os.symlink(root / "nowhere", root / "dangling.png")
        made.append("dangling link")
    if data.draw(st.integers(0, 5)) == 0:
        (root / "folder.png").mkdir()
        made.append("folder named .png")
    if data.draw(st.integers(0, 5)) == 0:
        p = root / "locked.png"
        p.write_bytes(b"\x89PNG")
        p.chmod(0)  # unreadable (unless the campaign runs as root, which reads it anyway)
        made.append("unreadable file")
    return made


def place(data, root: Path, name: str, labelled: bool) -> Path:
    """A file path in a class subfolder (labelled) or at the top of `root`."""
    folder = root / data.draw(st.sampled_from(["cat", "dog", "x y", "é"])) if labelled else root
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


# ------------------------------------------------------------------ images

MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "I;16", "I", "F")
FORMATS = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "WEBP": ".webp"}
BOMB_SIZES = ((30000, 30000), (100000, 100000), (65535, 1), (1, 65535), (12000, 12000))


def png_with_size(blob: bytes, w: int, h: int) -> bytes:
    """A PNG whose header declares w x h (a decompression bomb when large), its CRC made right."""
    ihdr = blob[12:29]  # b"IHDR" + 13 bytes
    body = b"IHDR" + struct.pack(">II", w, h) + ihdr[12:]
    return blob[:12] + body + struct.pack(">I", zlib.crc32(body)) + blob[33:]


def image_bytes(data) -> tuple[bytes, str, str]:
    """(file bytes, extension, description) of one generated image."""
    mode = data.draw(st.sampled_from(MODES))
    w, h = data.draw(st.integers(1, 40)), data.draw(st.integers(1, 40))
    arr = np.frombuffer(data.draw(st.binary(min_size=w * h * 4, max_size=w * h * 4)), np.uint8).reshape(h, w, 4)
    im = Image.fromarray(arr, "RGBA")
    if mode == "PA":
        im = im.convert("P")
        im.info["transparency"] = 0
    elif mode in ("I;16", "I", "F"):
        im = Image.fromarray(arr[..., 0].astype(np.uint16) * 257).convert(mode)
    else:
        im = im.convert(mode)
    fmt = data.draw(st.sampled_from(sorted(FORMATS)))
    buf = io.BytesIO()
    kw = {}
    if data.draw(st.booleans()):
        exif = Image.Exif()
        exif[0x0112] = data.draw(st.integers(0, 9))  # orientation, 0 and 9 out of range
        kw["exif"] = exif
    try:
        im.save(buf, fmt, **kw)
    except (OSError, ValueError, KeyError):  # this mode cannot be written in this format: PNG of RGB instead
        buf, fmt = io.BytesIO(), "PNG"
        im.convert("RGB").save(buf, "PNG")
    blob = buf.getvalue()
    what = f"{mode} {w}x{h} {fmt}"
    if fmt == "PNG" and data.draw(st.integers(0, 9)) == 0:
        bw, bh = data.draw(st.sampled_from(BOMB_SIZES))
        blob, what = png_with_size(blob, bw, bh), f"{what} declaring {bw}x{bh}"
    ext = FORMATS[fmt] if data.draw(st.integers(0, 5)) else data.draw(st.sampled_from(sorted(FORMATS.values())))
    return blob, ext, what


def image_folder(data, tmp: Path) -> Case:
    root = tmp / "images"
    root.mkdir()
    labelled = data.draw(st.booleans())
    whats = []
    for i in range(data.draw(st.integers(3, 8))):
        blob, ext, what = image_bytes(data)
        blob, how = mutate(data, blob)
        place(data, root, f"im{i}{ext}", labelled).write_bytes(blob)
        whats.append(f"{what} {how}")
    whats += hostile_entries(data, root)
    sets = [f"data.resolution={data.draw(st.sampled_from([4, 8, 16]))}"] if data.draw(st.booleans()) else []
    sets += [f"data.channels={data.draw(st.sampled_from([1, 3]))}"] if data.draw(st.booleans()) else []
    return data_case(data, root, "image", sets, f"image folder [{'; '.join(whats)}] {sets}")


def data_case(data, source: Path, modality: str, sets: list[str], what: str) -> Case:
    """`genforge data inspect SOURCE --set ... [--strict]`; the count of named skips is its result."""
    strict = data.draw(st.booleans())

    def call():
        rep, _ = inspect_data(str(source), modality, sets, strict)
        return len(rep["problems"])

    names = [str(source)] + [s.split("=")[0] for s in sets]
    return Case(call, names, f"{what}{' strict' if strict else ''}")


# ------------------------------------------------------------------ IDX

IDX_TYPES = (0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E)


def idx_bytes(data, arr: np.ndarray, type_byte: int = 0x08) -> tuple[bytes, str]:
    """An IDX file of `arr`, maybe with a wrong magic, type, rank or count, or cut short or padded."""
    dims = list(arr.shape)
    kind = data.draw(st.sampled_from(["none"] * 6 + ["magic", "type", "rank", "count", "huge", "pad"]))
    magic = [0, 0, type_byte, len(dims)]
    if kind == "magic":
        magic[data.draw(st.integers(0, 1))] = data.draw(st.integers(1, 255))
    elif kind == "type":
        magic[2] = data.draw(st.integers(0, 255))
    elif kind == "rank":
        magic[3] = data.draw(st.integers(0, 6))
    elif kind == "count" and dims:
        i = data.draw(st.integers(0, len(dims) - 1))
        dims[i] = max(0, dims[i] + data.draw(st.integers(-3, 3)))
    elif kind == "huge" and dims:
        dims[data.draw(st.integers(0, len(dims) - 1))] = data.draw(st.sampled_from([2**31 - 1, 2**32 - 1, 10**6]))
    body = arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    blob = bytes(magic) + b"".join(struct.pack(">I", d) for d in dims) + body
    if kind == "pad":
        blob += data.draw(st.binary(min_size=1, max_size=20))
    blob, how = mutate(data, blob)
    return blob, f"{kind}/{how}"


def idx_folder(data, tmp: Path) -> Case:
    root = tmp / "idx"
    root.mkdir()
    whats = []
    for prefix in ("train", "t10k"):
        if prefix == "t10k" and not data.draw(st.booleans()):
            continue
        n, h, w = data.draw(st.integers(0, 6)), data.draw(st.integers(1, 8)), data.draw(st.integers(1, 8))
        images = np.frombuffer(data.draw(st.binary(min_size=n * h * w, max_size=n * h * w)), np.uint8)
        gz = data.draw(st.booleans())
        blob, how = idx_bytes(data, images.reshape(n, h, w))
        (root / f"{prefix}-images-idx3-ubyte{'.gz' if gz else ''}").write_bytes(gzip.compress(blob) if gz else blob)
        whats.append(f"{prefix} images {n}x{h}x{w} {how}")
        if data.draw(st.booleans()):
            m = max(0, n + data.draw(st.sampled_from([0, 0, 0, -1, 1])))
            labels = np.array(data.draw(st.lists(st.integers(-128, 127), min_size=m, max_size=m)), np.int8)
            signed = data.draw(st.booleans())
            blob, how = idx_bytes(data, labels if signed else labels.view(np.uint8), 0x09 if signed else 0x08)
            (root / f"{prefix}-labels-idx1-ubyte").write_bytes(blob)
            whats.append(f"{prefix} labels {m} {how}")
    return data_case(data, root, "image", [], f"IDX folder [{'; '.join(whats)}]")


# ------------------------------------------------------------------ NPZ / NPY

DTYPES = ("uint8", "int16", "int64", "float16", "float32", "float64", "bool", "complex64", "object", "<U3", "struct")
KEYS = ("x", "images", "train", "test", "labels", "train_labels", "test_labels", "y", "data", "weird key")


def any_array(data) -> np.ndarray:
    """Images shaped as users store them (half the time), else any rank, shape and dtype."""
    if data.draw(st.booleans()):
        n, h, w = data.draw(st.integers(2, 12)), data.draw(st.integers(1, 10)), data.draw(st.integers(1, 10))
        shape = data.draw(st.sampled_from([(n, h, w), (n, h, w, 1), (n, 3, h, w), (n, h, w, 3)]))
        scale = data.draw(st.sampled_from([255, 1.0]))
        return (np.random.default_rng(n * h * w).random(shape) * scale).astype(np.uint8 if scale == 255 else np.float32)
    rank = data.draw(st.integers(0, 5))
    shape = tuple(data.draw(st.integers(0, 6)) for _ in range(rank))
    n = int(np.prod(shape))
    dtype = data.draw(st.sampled_from(DTYPES))
    if dtype == "object":
        return np.array([{"a": 1}] * n + [None], dtype=object)[:n].reshape(shape)
    if dtype == "struct":
        return np.zeros(shape, dtype=[("a", "u1"), ("b", "f4")])
    if dtype == "<U3":
        return np.full(shape, "abc")
    values = data.draw(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=n, max_size=n))
    with np.errstate(all="ignore"):
        return np.array(values, dtype=np.float64).reshape(shape).astype(dtype)


def array_file(data, tmp: Path) -> Case:
    npz = data.draw(st.booleans())
    path = tmp / ("data.npz" if npz else "data.npy")
    buf = io.BytesIO()
    if npz:
        keys = data.draw(st.lists(st.sampled_from(KEYS), min_size=0, max_size=4, unique=True))
        arrays = {k: any_array(data) for k in keys}
        np.savez(buf, **arrays)
        what = {k: f"{a.dtype}{list(a.shape)}" for k, a in arrays.items()}
    else:
        arr = any_array(data)
        np.save(buf, arr, allow_pickle=True)  # an object array is written pickled: the loader must refuse it
        what = f"{arr.dtype}{list(arr.shape)}"
    blob, how = mutate(data, buf.getvalue())
    path.write_bytes(blob)
    return data_case(data, path, "image", [], f"{path.name} {what} {how}")


# ------------------------------------------------------------------ text

TEXT = st.text(st.characters(codec="utf-8"), max_size=120)


def text_bytes(data, lines: list[str]) -> bytes:
    """Lines as UTF-8, maybe with a BOM, CRLF endings or bytes that are not UTF-8."""
    sep = data.draw(st.sampled_from(["\n", "\r\n", "\n%\n"]))
    blob = sep.join(lines).encode()
    if data.draw(st.booleans()):
        blob = b"\xef\xbb\xbf" + blob
    if data.draw(st.integers(0, 3)) == 0:
        at = data.draw(st.integers(0, len(blob)))
        blob = blob[:at] + data.draw(st.sampled_from([b"\xff\xfe", b"\xc3", b"\x00", b"\x1b[31m"])) + blob[at:]
    return blob


def table_bytes(data, kind: str) -> bytes:
    """A CSV or JSONL file with some of the columns text and label, rows of any values, maybe broken."""
    cols = data.draw(st.lists(st.sampled_from(["text", "label", "body", "other"]), max_size=3, unique=True))
    value = st.one_of(TEXT, st.integers(), st.floats(), st.none(), st.booleans())
    rows = data.draw(st.lists(st.fixed_dictionaries({c: value for c in cols}), min_size=3, max_size=30))
    if kind == "csv":
        out = io.StringIO()
        out.write(",".join(cols) + "\n")
        for r in rows:  # cells quoted as JSON strings (valid CSV quoting) or written raw (maybe broken)
            cells = [json.dumps(r[c], ensure_ascii=False) if data.draw(st.booleans()) else str(r[c]) for c in cols]
            out.write(",".join(cells) + "\n")
        return out.getvalue().encode()
    lines = [json.dumps(r, ensure_ascii=False) if data.draw(st.integers(0, 9)) else data.draw(TEXT) for r in rows]
    return "\n".join(lines).encode()


def text_source(data, tmp: Path) -> Case:
    kind = data.draw(st.sampled_from(["txt", "folder", "csv", "jsonl"]))
    sets = [f"data.max_tokens={data.draw(st.integers(4, 64))}"]
    if kind in ("csv", "jsonl"):
        source = tmp / f"texts.{kind}"
        source.write_bytes(mutate(data, table_bytes(data, kind))[0])
        sets.append(f"data.text_column={data.draw(st.sampled_from(['text', 'body', 'nope']))}")
        if data.draw(st.booleans()):
            sets.append(f"data.label_column={data.draw(st.sampled_from(['label', 'nope']))}")
    else:
        source = tmp / ("texts.txt" if kind == "txt" else "texts")
        labelled = [data.draw(st.booleans()) for _ in range(3)]
        files = [source] if kind == "txt" else [place(data, source, f"t{i}.txt", lab) for i, lab in enumerate(labelled)]
        for f in files:
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(mutate(data, text_bytes(data, data.draw(st.lists(TEXT, min_size=3, max_size=40))))[0])
        if data.draw(st.booleans()):
            sets.append("data.separator=%")
    return data_case(data, source, "text", sets, f"text {kind} {sets}")


# ------------------------------------------------------------------ audio

AUDIO = {
    ".wav": ("WAV", ("PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "PCM_U8")),
    ".flac": ("FLAC", ("PCM_16",)),
    ".ogg": ("OGG", ("VORBIS",)),
}


def audio_bytes(data) -> tuple[bytes, str, str]:
    ext = data.draw(st.sampled_from(list(AUDIO)))  # hypothesis favours the first choices: usable ones first
    fmt, subtypes = AUDIO[ext]
    subtype = data.draw(st.sampled_from(subtypes))
    rate = data.draw(st.sampled_from([16000, 8000, 11025, 44100, 96000, 1000]) | st.integers(1, 200_000))
    channels, frames = data.draw(st.integers(1, 3)), data.draw(st.sampled_from([4000, 800, 100, 1, 0]))
    signal = data.draw(st.sampled_from(["noise", "noise", "noise", "silence", "nan", "loud"]))
    x = np.random.default_rng(frames).standard_normal((frames, channels)) * 0.3
    x = {"silence": x * 0, "nan": np.where(x > 0.5, np.nan, x), "loud": x * 100}.get(signal, x)
    buf = io.BytesIO()
    try:
        sf.write(buf, x, rate, subtype=subtype, format=fmt)
    except (RuntimeError, ValueError, TypeError, AssertionError, sf.LibsndfileError):  # a rate this format refuses
        buf = io.BytesIO()
        sf.write(buf, np.zeros((10, 1)), 16000, format="WAV")
    return buf.getvalue(), ext, f"{fmt} {subtype} {rate} Hz x{channels} {frames} frames {signal}"


def file_folder(data, root: Path, draw_file, files: tuple[int, int], other_exts) -> list[str]:
    """A folder of `files` (min, max) files drawn by `draw_file(data) -> (bytes, extension, what)`, each maybe
    damaged or under one of `other_exts`, labelled by subfolder or not, beside hostile entries; what was made."""
    root.mkdir()
    labelled, whats = data.draw(st.booleans()), []
    for i in range(data.draw(st.integers(*files))):
        blob, ext, what = draw_file(data)
        blob, how = mutate(data, blob)
        if data.draw(st.integers(0, 7)) == 0:
            ext = data.draw(st.sampled_from(other_exts))  # maybe the wrong extension
        place(data, root, f"f{i}{ext}", labelled).write_bytes(blob)
        whats.append(f"{what} {ext} {how}")
    return whats + hostile_entries(data, root)


def audio_folder(data, tmp: Path) -> Case:
    root = tmp / "clips"
    whats = file_folder(data, root, audio_bytes, (3, 8), sorted(AUDIO))
    sets = ["data.sample_rate=8000", f"data.seconds={data.draw(st.sampled_from([0.1, 0.25]))}"]
    if data.draw(st.integers(0, 3)) == 0:
        sets.append("data.max_seconds=0.05")
    return data_case(data, root, "audio", sets, f"audio folder [{'; '.join(whats)}] {sets}")


DATA_TARGETS = {
    "image-folder": image_folder,
    "idx": idx_folder,
    "npz-npy": array_file,
    "text": text_source,
    "audio-folder": audio_folder,
}
