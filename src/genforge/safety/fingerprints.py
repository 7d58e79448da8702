"""Robust fingerprints of generated items, by well-kept libraries: they survive re-encoding, resizing, a little
cropping or trimming, where a file's metadata (its C2PA manifest) does not.

kind    files                            fingerprint (library)                       distance in [0, 1]
image   .png .jpg .jpeg .bmp .tif .tiff  256-bit perceptual hashes (imagehash.phash)  Hamming / 256, nearest
                                         of the image and of its centre crops        pair of crops
frames  .gif .webp .mp4 .mov .webm       a 64-bit phash a frame (imagehash)           mean over frames of the
                                                                                      nearest frame's Hamming / 64
audio   .wav .flac .ogg .mp3             Chromaprints (pyacoustid + libchromaprint)  bit error rate, best
                                         of the clip and of its start trimmed         pair of trims and shift
text    .txt .jsonl (one item a line)    MinHash of character 4-grams (datasketch)   1 - estimated Jaccard
notes   .mid .midi                       the melody's pitch intervals and onset      1 - Jaccard of token
                                         ratios                                       trigrams (any key, tempo)

Chromaprint needs about three seconds of sound: a shorter clip is repeated to FINGERPRINT_SECONDS first,
the same rule for generated and queried clips (a one-second clip then holds about four distinct frames, which
is what limits how far a short clip can be changed and still be told from other recordings of the same word).
Each kind's threshold is what `python -m genforge.bench.fingerprints` measures (docs/safety.md).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import imagehash
import numpy as np
from PIL import Image, ImageSequence

from ..errors import DataError

FINGERPRINT_SECONDS = 5.0
MINHASH_PERMS = 64
SHINGLE = 4
MAX_SHIFT = 4  # Chromaprint frames (~0.12 s each) a trimmed clip may be shifted by
TRIMS = (0.0, 0.04, 0.08, 0.12)  # seconds cut from a clip's start, each hashed
CROPS = (0.03, 0.06)  # an image is also hashed with this share of each side cropped
NORMALISE = 64  # the side every picture is resampled to before its perceptual hash (phash's own working size)


def _phash(img, size: int) -> str:
    return str(imagehash.phash(img.convert("L"), hash_size=size))


def _normalised(img):
    """A picture resampled to NORMALISE x NORMALISE (bicubic) before hashing: a small sample and a resized copy
    of it then pass through the same resampling, which keeps their hashes' high bits alike."""
    return img.convert("L").resize((NORMALISE, NORMALISE), Image.BICUBIC)


def _bits(hexes: list[str]) -> np.ndarray:
    """Hex hashes -> bits [N, 4 * len]."""
    return np.unpackbits(np.array([list(bytes.fromhex(h)) for h in hexes], dtype=np.uint8), axis=1)


# ---------------------------------------------------------------- images


def _crops(im) -> list:
    """The image and its centre cropped by CROPS of each side: a copy cropped about that much still matches."""
    w, h = im.size
    out = [im]
    for f in CROPS:
        dx, dy = max(1, round(w * f)), max(1, round(h * f))
        out.append(im.crop((dx, dy, w - dx, h - dy)))
    return out


def image_items(path: Path) -> list:
    with Image.open(path) as im:
        return [[_phash(_normalised(c), 16) for c in _crops(im.convert("RGB"))]]


def image_distance(a: list[str], b: list[str]) -> float:
    """The smallest Hamming share between any crop of one and any crop of the other."""
    return float(_hash_distances(a, _hash_table([b]))[0])


# ---------------------------------------------------------------- frames


def _frames(path: Path) -> list:
    if path.suffix.lower() in (".mp4", ".mov", ".webm"):
        import av  # deferred: the video extra's; only MP4 and MOV files need it

        with av.open(str(path)) as box:
            return [f.to_image() for f in box.decode(video=0)]
    with Image.open(path) as im:
        return [f.convert("RGB") for f in ImageSequence.Iterator(im)]


def frames_items(path: Path) -> list:
    return [[_phash(f, 8) for f in _frames(path)]]


def frames_distance(a: list[str], b: list[str]) -> float:
    x, y = _bits(a), _bits(b)
    d = (x[:, None, :] != y[None, :, :]).mean(-1)  # [Fa, Fb]
    return float(d.min(1).mean())


# ---------------------------------------------------------------- audio


def chromaprint(wave: np.ndarray, sr: int) -> list[int]:
    """The raw Chromaprint of a mono clip (float in [-1, 1]), repeated to FINGERPRINT_SECONDS if shorter."""
    try:
        import chromaprint as cp  # deferred: the audio extra's (pyacoustid), over Debian's libchromaprint
    except (ImportError, OSError) as e:
        raise DataError(
            f"audio fingerprints need Chromaprint ({e}): pip install pyacoustid; apt-get install libchromaprint1"
        ) from None
    reps = max(1, int(np.ceil(FINGERPRINT_SECONDS * sr / max(len(wave), 1))))
    pcm = np.clip(np.tile(wave, reps) * 32767, -32768, 32767).astype("<i2")
    fp = cp.Fingerprinter()
    fp.start(sr, 1)
    fp.feed(pcm.tobytes())
    return [int(v) for v in cp.decode_fingerprint(fp.finish())[0]]


def audio_items(path: Path) -> list:
    import soundfile as sf  # deferred: the audio extra's; only audio files need it

    wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    wave = wave.mean(1)
    # a short clip is repeated, so a trimmed copy repeats at another period: its start is also hashed trimmed
    return [[chromaprint(wave[int(t * sr) :], sr) for t in TRIMS]]


def _audio_table(fps: list) -> tuple[np.ndarray, np.ndarray]:
    """Clips' fingerprints (a Chromaprint per trim) -> (frames uint32 [N, trims, L] zero-padded, lengths [N, trims])."""
    width = max(len(f) for item in fps for f in item)
    table = np.zeros((len(fps), len(TRIMS), width), dtype=np.uint32)
    lengths = np.zeros((len(fps), len(TRIMS)), dtype=np.int64)
    for i, item in enumerate(fps):
        for j, f in enumerate(item):
            table[i, j, : len(f)], lengths[i, j] = f, len(f)
    return table, lengths


def _audio_distances(fp, index) -> np.ndarray:
    """The bit error rate of a clip against each logged clip: the best pair of trims and shift (MAX_SHIFT frames
    either way) over at least 4 overlapping frames; 1.0 where none overlaps that much."""
    table, lt = index
    q, lq = _audio_table([fp])
    q, lq = q[0], lq[0]  # [trims, Lq], [trims]
    best = np.ones(table.shape[:2] + q.shape[:1])  # [N, trims, trims]
    for s in range(-MAX_SHIFT, MAX_SHIFT + 1):
        t, u = (table[..., s:], q) if s >= 0 else (table, q[:, -s:])
        m = min(t.shape[-1], u.shape[-1])
        pos = np.arange(m)
        valid = (pos < (lt - max(s, 0))[..., None])[:, :, None, :] & (pos < (lq - max(-s, 0))[:, None])[None, None]
        xor = t[:, :, None, :m] ^ u[None, None, :, :m]  # [N, trims, trims, m]
        bits = np.unpackbits(xor.view(np.uint8).reshape(*xor.shape, 4), axis=-1).sum(-1)
        n = valid.sum(-1)
        ber = np.where(n >= 4, (bits * valid).sum(-1) / (32.0 * np.maximum(n, 1)), 1.0)
        best = np.minimum(best, ber)
    return best.min((1, 2))


def audio_distance(a: list, b: list) -> float:
    return float(_audio_distances(a, _audio_table([b]))[0])


# ---------------------------------------------------------------- text


def minhash(text: str) -> list[int]:
    """MinHash of a text's character 4-grams, case and runs of white space folded."""
    from datasketch import MinHash  # deferred: it imports scipy.integrate (most of a second); only text needs it

    t = " ".join(text.lower().split())
    m = MinHash(num_perm=MINHASH_PERMS, seed=1)
    m.update_batch([t[i : i + SHINGLE].encode() for i in range(max(1, len(t) - SHINGLE + 1))])
    return [int(v) for v in m.hashvalues]


def text_lines(path: Path) -> list[str]:
    """The generated texts of a file: its lines, or the `text` (a dialog file's `answer`) of each JSON line."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if path.suffix.lower() == ".jsonl":
        rows = [json.loads(line) for line in lines if line.strip()]
        lines = [str(r.get("text", r.get("answer", ""))) for r in rows]
    return [line for line in lines if line.strip()]


def text_items(path: Path) -> list:
    return [minhash(t) for t in text_lines(path)]


def text_distance(a: list[int], b: list[int]) -> float:
    return float((np.asarray(a) != np.asarray(b)).mean())


# ---------------------------------------------------------------- notes


def notes_items(path: Path) -> list:
    """One melody's tokens: (pitch interval, inter-onset ratio in half octaves of time) from its third note on,
    which neither a transposition nor a change of tempo alters."""
    import pretty_midi  # deferred: the music extra's; only MIDI files need it

    pm = pretty_midi.PrettyMIDI(io.BytesIO(path.read_bytes()))
    notes = sorted((n.start, n.pitch) for i in pm.instruments if not i.is_drum for n in i.notes)
    tokens = []
    for (t0, _), (t1, p1), (t2, p2) in zip(notes, notes[1:], notes[2:]):
        a, b = t2 - t1, t1 - t0
        ratio = int(np.round(2 * np.log2(a / b))) if a > 0 and b > 0 else 99  # 99: a chord (no time between)
        tokens.append([p2 - p1, ratio])
    return [tokens]


def notes_distance(a: list, b: list) -> float:
    """1 - Jaccard of token trigrams; melodies of under three tokens match only if equal (and not empty)."""
    a, b = [tuple(t) for t in a], [tuple(t) for t in b]
    if min(len(a), len(b)) < 3:
        return 0.0 if a and a == b else 1.0
    x, y = ({tuple(v[i : i + 3]) for i in range(len(v) - 2)} for v in (a, b))
    return 1.0 - len(x & y) / len(x | y)


def _hash_table(fps: list) -> np.ndarray:
    """Image fingerprints (a hash per crop) -> bits [N, crops, 256]."""
    return np.stack([_bits(f) for f in fps])


def _hash_distances(fp, table: np.ndarray) -> np.ndarray:
    q = _bits(fp)  # [crops, 256]
    return (table[:, None, :, :] != q[None, :, None, :]).mean(-1).min((1, 2))


def _value_table(fps: list) -> np.ndarray:
    return np.asarray(fps, dtype=np.uint64).reshape(len(fps), MINHASH_PERMS)


def _value_distances(fp, table: np.ndarray) -> np.ndarray:
    return (table != np.asarray(fp, dtype=np.uint64)).mean(1)


@dataclass(frozen=True)
class Kind:
    name: str
    suffixes: tuple[str, ...]
    items: Callable[[Path], list]  # a file -> the fingerprints of the items in it
    distance: Callable[[object, object], float]
    threshold: float  # at or below: the same item
    table: Optional[Callable[[list], np.ndarray]] = None  # many fingerprints as one array, where they fit one
    distances: Optional[Callable[[object, np.ndarray], np.ndarray]] = None  # one fingerprint against a table

    def index(self, fps: list):
        """What `nearest` searches: a table of the fingerprints (None where there are none), or the list itself."""
        if self.table is None:
            return fps
        return self.table(fps) if fps else None

    def nearest(self, fp, index) -> tuple[int, float]:
        """(position, distance) of the fingerprint of `index` nearest to `fp`; (-1, 1.0) in an empty one."""
        if index is None or len(index) == 0:
            return -1, 1.0
        d = self.distances(fp, index) if self.distances else np.array([self.distance(fp, x) for x in index])
        i = int(np.argmin(d))
        return i, float(d[i])


KINDS = {
    k.name: k
    for k in (
        Kind("image", (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"), image_items, image_distance, 0.15,
             _hash_table, _hash_distances),
        Kind("frames", (".gif", ".webp", ".mp4", ".mov", ".webm"), frames_items, frames_distance, 0.1),
        Kind("audio", (".wav", ".flac", ".ogg", ".mp3"), audio_items, audio_distance, 0.055, _audio_table,
             _audio_distances),
        Kind("text", (".txt", ".jsonl"), text_items, text_distance, 0.5, _value_table, _value_distances),
        Kind("notes", (".mid", ".midi"), notes_items, notes_distance, 0.25),
    )
}  # fmt: skip


def kind_of(path: Path) -> Kind | None:
    """The fingerprint kind of a file, by its suffix; None where genforge fingerprints no such file."""
    return next((k for k in KINDS.values() if path.suffix.lower() in k.suffixes), None)


def file_items(path: Path) -> tuple[Kind, list]:
    """(kind, the fingerprints of the items of a file); a file that cannot be read is a DataError naming it."""
    kind = kind_of(path)
    if kind is None:
        suffixes = sorted(s for k in KINDS.values() for s in k.suffixes)
        raise DataError(f"{path}: no fingerprint for this file type (expected one of {', '.join(suffixes)})")
    try:
        return kind, kind.items(path)
    except Exception as e:  # any reader's failure on a damaged file: name the file and the reason
        raise DataError(f"{path}: could not be read as {kind.name} ({type(e).__name__}: {e})") from None
