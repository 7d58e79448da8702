"""How robust the generation log's fingerprints are: a run's samples, transformed as files are on their way
around (metadata stripped, re-encoded, resized, cropped, trimmed), looked up in its log; and real items of
its data, which must not match.

    python -m genforge.bench.fingerprints runs/fm-dcgan --n 200 --real 1000

prints a Markdown table (transformation -> match rate) and the false matches among the real items, and with
`--costs --n 1000` the seconds each step of `genforge sample` takes: the figures of docs/safety.md. Each
sample is written one a file (text: one a line, each line its own file).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, ImageSequence
from scipy.signal import resample_poly

from ..modalities import modality_of
from ..run import load
from ..safety import guard
from ..safety.fingerprints import KINDS, file_items, kind_of, text_lines
from ..safety.guard import guarded_samples
from ..safety.log import LogIndex
from ..sample import write_samples

Transform = Callable[[Path, Path], Path]  # (a file, a folder to write into) -> the transformed file


def _image(src: Path, dst: Path, fn, suffix: str = ".png", **save) -> Path:
    with Image.open(src) as im:
        out = dst / (src.stem + suffix)
        fn(im.convert("RGB")).save(out, **save)
    return out


def _crop(im, frac: float):
    w, h = im.size
    dx, dy = max(1, round(w * frac)), max(1, round(h * frac))
    return im.crop((dx, dy, w - dx, h - dy))


def _noise(im, sigma: float, seed: int = 0):
    a = np.asarray(im, dtype=np.float32) + np.random.default_rng(seed).normal(0, sigma, (im.size[1], im.size[0], 3))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


IMAGE: dict[str, Transform] = {
    "metadata stripped (pixels re-saved)": lambda s, d: _image(s, d, lambda im: im),
    "JPEG, quality 75": lambda s, d: _image(s, d, lambda im: im, ".jpg", quality=75),
    "resized x2 (bicubic)": lambda s, d: _image(s, d, lambda im: im.resize((im.width * 2, im.height * 2), 3)),
    "resized x0.75": lambda s, d: _image(s, d, lambda im: im.resize((im.width * 3 // 4, im.height * 3 // 4), 3)),
    "cropped 5% a side": lambda s, d: _image(s, d, lambda im: _crop(im, 0.05)),
    "cropped 10% off the left and top": lambda s, d: _image(
        s, d, lambda im: im.crop((round(im.width * 0.1), round(im.height * 0.1), im.width, im.height))
    ),
    "noise (sd 4 of 255)": lambda s, d: _image(s, d, lambda im: _noise(im, 4.0)),
}


def _audio(src: Path, dst: Path, fn, suffix: str = ".wav", **write) -> Path:
    import soundfile as sf  # deferred: the audio extra's; only audio runs need it

    wave, sr = sf.read(str(src), dtype="float32")
    wave, sr = fn(wave, sr)
    out = dst / (src.stem + suffix)
    sf.write(str(out), wave, sr, **write)
    return out


def _resample(wave: np.ndarray, sr: int, to: int):
    g = np.gcd(sr, to)
    return resample_poly(wave, to // g, sr // g).astype(np.float32), to


AUDIO: dict[str, Transform] = {
    "metadata stripped (samples re-saved)": lambda s, d: _audio(s, d, lambda w, r: (w, r)),
    "FLAC": lambda s, d: _audio(s, d, lambda w, r: (w, r), ".flac"),
    "Ogg Vorbis": lambda s, d: _audio(s, d, lambda w, r: (w, r), ".ogg"),
    "resampled to 22.05 kHz": lambda s, d: _audio(s, d, lambda w, r: _resample(w, r, 22050)),
    "gain -6 dB": lambda s, d: _audio(s, d, lambda w, r: (w * 0.5, r)),
    "first 50 ms trimmed": lambda s, d: _audio(s, d, lambda w, r: (w[int(0.05 * r) :], r)),
    "noise 30 dB down": lambda s, d: _audio(
        s, d, lambda w, r: (w + np.random.default_rng(0).normal(0, 0.03 * (np.abs(w).max() + 1e-6), len(w)), r)
    ),
}


def _text(src: Path, dst: Path, fn) -> Path:
    out = dst / src.name
    out.write_text(fn(src.read_text(encoding="utf-8").strip()) + "\n", encoding="utf-8")
    return out


def _drop_word(t: str, which: int) -> str:
    words = t.split()
    return " ".join(words[:which] + words[which + 1 :]) if len(words) > 2 else t


TEXT: dict[str, Transform] = {
    "copied as plain text": lambda s, d: _text(s, d, lambda t: t),
    "lower case, punctuation removed": lambda s, d: _text(
        s, d, lambda t: "".join(c for c in t.lower() if c.isalnum() or c.isspace())
    ),
    "first word dropped": lambda s, d: _text(s, d, lambda t: _drop_word(t, 0)),
    "a middle word dropped": lambda s, d: _text(s, d, lambda t: _drop_word(t, len(t.split()) // 2)),
}


def _midi(src: Path, dst: Path, fn) -> Path:
    import pretty_midi  # deferred: the music extra's; only music runs need it

    pm = pretty_midi.PrettyMIDI(str(src))
    fn(pm)
    out = dst / src.name
    pm.write(str(out))
    return out


def _transpose(pm, k: int):
    for inst in pm.instruments:
        for n in inst.notes:
            n.pitch = min(127, max(0, n.pitch + k))


def _stretch(pm, f: float):
    for inst in pm.instruments:
        for n in inst.notes:
            n.start, n.end = n.start * f, n.end * f


def _drop_last(pm):
    notes = [n for inst in pm.instruments for n in inst.notes]
    if len(notes) > 4:
        last = max(notes, key=lambda n: n.start)
        for inst in pm.instruments:
            inst.notes = [n for n in inst.notes if n is not last]


NOTES: dict[str, Transform] = {
    "rewritten (metadata gone)": lambda s, d: _midi(s, d, lambda pm: None),
    "transposed up a tone": lambda s, d: _midi(s, d, lambda pm: _transpose(pm, 2)),
    "25% slower": lambda s, d: _midi(s, d, lambda pm: _stretch(pm, 1.25)),
    "last note dropped": lambda s, d: _midi(s, d, _drop_last),
}


def _frames(src: Path, dst: Path, fn, suffix: str = ".gif") -> Path:
    with Image.open(src) as im:
        frames = [f.convert("RGB") for f in ImageSequence.Iterator(im)]
        duration = im.info.get("duration", 100)
    frames = fn(frames)
    out = dst / (src.stem + suffix)
    if suffix == ".mp4":
        from ..modalities.video.animation import animation_bytes  # deferred: the video extra's (PyAV)

        clip = np.stack([np.asarray(f) for f in frames])[None]
        out.write_bytes(animation_bytes(clip, 1000.0 / duration, ".mp4", 1))
    else:
        frames[0].save(out, save_all=True, append_images=frames[1:], duration=duration, loop=0)
    return out


FRAMES: dict[str, Transform] = {
    "metadata stripped (GIF re-saved)": lambda s, d: _frames(s, d, lambda f: f),
    "MP4 (H.264), resized x2": lambda s, d: _frames(
        s, d, lambda f: [x.resize((x.width * 2, x.height * 2)) for x in f], ".mp4"
    ),
    "resized x2": lambda s, d: _frames(s, d, lambda f: [x.resize((x.width * 2, x.height * 2), 3) for x in f]),
    "first 2 frames trimmed": lambda s, d: _frames(s, d, lambda f: f[2:] if len(f) > 3 else f),
}

TRANSFORMS = {"image": IMAGE, "audio": AUDIO, "text": TEXT, "notes": NOTES, "frames": FRAMES}


def item_files(mod, samples, folder: Path) -> list[Path]:
    """Samples written one a file (text: each line of the written .txt as a file of its own)."""
    out = folder / f"items{mod.item_files}"
    mod.write(samples, out)
    if out.is_dir():
        return sorted(p for p in out.iterdir() if kind_of(p) is not None)
    files = []
    for i, line in enumerate(text_lines(out)):
        files.append(folder / f"{i:05d}.txt")
        files[-1].write_text(line + "\n", encoding="utf-8")
    return files


def match_rate(files: list[Path], logs: LogIndex) -> float:
    """The share of files whose (first) item a run's generation log holds."""
    hits = 0
    for f in files:
        kind, items = file_items(f)
        hits += bool(items) and logs.best_match(kind.name, items[0]) is not None
    return hits / max(1, len(files))


def measure(run: Path, n: int = 200, n_real: int = 1000, seed: int = 0) -> dict:
    """{"kind", "rows": {transformation: match rate}, "false_matches", "n", "n_real"} for one run."""
    model = load(run)
    mod = modality_of(model)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        samples, labels, report = guarded_samples(model, n, seed + 7919)  # seeds apart from users' first ones
        write_samples(model, samples, tmp / f"logged{mod.item_files}", labels=labels, seed=seed + 7919)
        gen = item_files(mod, samples, tmp / "gen")
        logs = LogIndex([Path(run)])
        kind = kind_of(gen[0]).name
        rows = {}
        for name, fn in TRANSFORMS[kind].items():
            (tmp / name).mkdir()
            rows[name] = match_rate([fn(f, tmp / name) for f in gen], logs)
        data = mod.load(model.run_config.data, Path(run))
        real = data.tensor("test")
        if len(real) < n_real:
            real = torch.cat([real, data.tensor("train")[: n_real - len(real)]])
        real_files = item_files(mod, mod.to_samples(real[:n_real], data.codec), tmp / "real")
        false = match_rate(real_files, logs)
    return {"kind": kind, "rows": rows, "false_matches": false, "n": len(gen), "n_real": len(real_files)}


def costs(run: Path, n: int = 1000, suffix: str = ".npz") -> str:
    """A Markdown row of seconds for n samples of a run: the draw (after a warm-up draw), the guards (with the
    copy floor kept, and measured afresh), a plain write, and `write_samples` (write, sign, fingerprint, log)."""
    model = load(run)
    mod = modality_of(model)

    def seconds(fn) -> tuple[object, float]:
        t = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - t

    guarded_samples(model, n, 0, allow_copies=True, screen=False)
    _, draw = seconds(lambda: guarded_samples(model, n, 0, allow_copies=True, screen=False))
    (Path(run) / guard.FLOOR).unlink(missing_ok=True)
    guard._GUARDS.clear()
    _, first = seconds(lambda: guarded_samples(model, n, 0))
    guard._GUARDS.clear()
    (samples, labels, report), kept = seconds(lambda: guarded_samples(model, n, 0))
    suffix = mod.item_files or suffix
    with tempfile.TemporaryDirectory() as tmp:
        _, plain = seconds(lambda: mod.write(samples, Path(tmp) / f"plain{suffix}"))
        _, published = seconds(lambda: write_samples(model, samples, Path(tmp) / f"out{suffix}", labels=labels))
    return (f"| {Path(run).name} ({suffix}) | {draw:.1f} | {kept - draw:.1f} ({first - draw:.1f}) | {plain:.1f} | "
            f"{published:.1f} | {report.copies_redrawn} + {report.screened_redrawn} |")  # fmt: skip


def table(result: dict, run: str) -> str:
    """The Markdown rows of one run's measurement."""
    k = KINDS[result["kind"]]
    lines = [f"| {run} ({result['kind']}, threshold {k.threshold}) | {name} | {rate:.3f} |"
             for name, rate in result["rows"].items()]  # fmt: skip
    lines.append(f"| {run} | real items matched (false matches, {result['n_real']} items) | "
                 f"{result['false_matches']:.3f} |")  # fmt: skip
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--n", type=int, default=200, help="samples a run")
    ap.add_argument("--real", type=int, default=1000, help="real items checked for false matches")
    ap.add_argument("--costs", action="store_true", help="instead: seconds of sampling n items, each step apart")
    args = ap.parse_args(argv)
    if args.costs:
        print("| run | draw | guards (first call) | write | write, sign, fingerprint | redrawn (copies + screened) |")
        print("|---|---|---|---|---|---|")
        for run in args.runs:
            print(costs(run, args.n), flush=True)
        return
    print("| run | transformation | match rate |\n|---|---|---|")
    for run in args.runs:
        print(table(measure(run, args.n, args.real), run.name), flush=True)


if __name__ == "__main__":
    main()
