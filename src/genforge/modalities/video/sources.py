"""Video sources and the in-memory VideoData: moving items made offline by the Moving MNIST recipe, and
folders of GIF / MP4 / WebM files read with PyAV.

Stored form: uint8 clips, NTHWC arrays here, [N, T, C, H, W] tensors (`VideoData.tensor`); every clip has
`data.frames` frames of `data.resolution` pixels square, played at `data.fps`.

- `moving-digits` / `moving-fashion` (Srivastava et al. 2015's Moving MNIST recipe): `data.items` items of one
  class (scikit-learn's digits, or Fashion-MNIST), each 7/16 of the frame's side, start at random places and
  move with a constant random velocity, bouncing off the frame's edges; frames are the pixel-wise maximum of
  the items. Seeded; training clips move training items, test clips the source's held-out items. Labelled by
  the items' class.
- a folder of video files (first-level subfolders as labels when every file is in one): frames are taken at
  `data.fps` (a slower source's frames are held), resized so the shorter side is `data.resolution` and
  center-cropped, then cut into back-to-back clips of `data.frames` (at most `data.clips_per_file` a file).
  The held-out clips come from whole files (a seeded split of the files), so no file is on both sides.
  Unreadable, empty or too short files are named with the reason and skipped (`data.strict`: an error).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ...data.base import (
    SplitData,
    find_source,
    register_source,
    seeded_split,
    split_source,
    subfolder_classes,
)
from ...errors import DataError
from ..image.builtin import load_digits, load_fashion_mnist
from ..image.folder import convert_channels, resize_square, square

EXTENSIONS = (".gif", ".mp4", ".webm", ".mov", ".mkv", ".avi")
ITEM_SHARE = 28 / 64  # an item's side over the frame's side (Moving MNIST: 28 px in 64)


@dataclass
class RawVideo:
    """A source's clips before splitting: uint8 [N, T, H, W, C], labels, what was met."""

    name: str
    clips: np.ndarray
    labels: Optional[np.ndarray] = None
    class_names: Optional[list[str]] = None
    test: Optional[np.ndarray] = None
    test_labels: Optional[np.ndarray] = None
    split: Optional[str] = None  # how the source split its clips (None: no split of its own)
    problems: list[tuple[str, str]] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    ids: Optional[list[str]] = None


@dataclass(kw_only=True)
class VideoData(SplitData):
    """A preprocessed video data set: uint8 clips [N, T, H, W, C] played at `fps`."""

    fps: float
    modality = "video"

    @property
    def codec(self) -> float:
        """What turns stored clips into playable ones: the frame rate."""
        return self.fps

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(channels, frames, height, width): the model form of one clip."""
        _, t, h, w, c = self.train.shape
        return c, t, h, w

    def tensor(self, split: str = "train", device="cpu") -> torch.Tensor:
        """The split as uint8 [N, T, C, H, W]."""
        arr = self.train if split == "train" else self.test
        return torch.from_numpy(arr).permute(0, 1, 4, 2, 3).contiguous().to(device)


# ---------------------------------------------------------------- moving items (Moving MNIST recipe)


def moving_clips(items: np.ndarray, labels: np.ndarray, n: int, cfg, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n clips [n, T, S, S, C] of `cfg.items` items of one class bouncing in an S x S frame, and their labels.

    items: uint8 [M, h, w, C] (each one used is brought to 7/16 of S); each clip's class is drawn uniformly from
    those present, its items from that class; speeds are 2..4 px a frame at S = 64 (scaled with S)."""
    size, frames = cfg.resolution, cfg.frames
    side = max(2, round(size * ITEM_SHARE))
    resized: dict[int, np.ndarray] = {}  # only the items clips use are resized (Fashion-MNIST has 60,000)
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    by_class = {int(c): np.flatnonzero(labels == c) for c in classes}
    out = np.zeros((n, frames, size, size, items.shape[-1]), np.uint8)  # [n, T, S, S, C]
    clip_labels = rng.choice(classes, n)
    room = size - side
    for i, c in enumerate(clip_labels):
        for item in rng.choice(by_class[int(c)], cfg.items):
            if item not in resized:
                resized[item] = resize_square(items[item : item + 1], side)[0]
            pos = rng.uniform(0, room, 2)
            angle, speed = rng.uniform(0, 2 * np.pi), rng.uniform(2, 4) * size / 64
            vel = speed * np.array([np.sin(angle), np.cos(angle)])
            for t in range(frames):
                y, x = np.rint(pos).astype(int)
                view = out[i, t, y : y + side, x : x + side]
                np.maximum(view, resized[item], out=view)
                pos = pos + vel
                for d in range(2):  # bounce: reflect the position back into the frame and turn round
                    if not 0 <= pos[d] <= room:
                        pos[d] = -pos[d] if pos[d] < 0 else 2 * room - pos[d]
                        vel[d] = -vel[d]
    return out, clip_labels.astype(np.int64)


def _moving(name: str, load_items):
    def load(spec, cfg) -> RawVideo:
        raw = load_items(spec, cfg)
        if raw.test is None:  # scikit-learn's digits have no split: a seeded one, so test clips move unseen items
            tr, te, _ = seeded_split(len(raw.train), cfg, "item")
            train, train_labels = raw.train[tr], raw.train_labels[tr]
            test, test_labels = raw.train[te], raw.train_labels[te]
        else:
            train, train_labels, test, test_labels = raw.train, raw.train_labels, raw.test, raw.test_labels
        n_test = max(10, round(cfg.clips * cfg.test_fraction))
        clips, labels = moving_clips(train, train_labels, cfg.clips, cfg, cfg.split_seed)
        test_clips, test_clip_labels = moving_clips(test, test_labels, n_test, cfg, cfg.split_seed + 1)
        return RawVideo(
            name=name,
            clips=clips,
            labels=labels,
            class_names=raw.class_names,
            test=test_clips,
            test_labels=test_clip_labels,
            split="by item (held-out clips move items training never sees)",
            summary={"recipe": "Moving MNIST", "items_per_clip": cfg.items, "origin": raw.name},
        )

    return load


for _name, _items, _help in (
    (
        "moving-digits",
        load_digits,
        "scikit-learn's digits moving and bouncing in a frame (the Moving MNIST recipe); always available",
    ),
    (
        "moving-fashion",
        load_fashion_mnist,
        "Fashion-MNIST items moving and bouncing in a frame (the Moving MNIST recipe)",
    ),
):
    register_source(_name, lambda s, name=_name: s == name, _help, modality="video")(_moving(_name, _items))


# ---------------------------------------------------------------- folders of video files


def read_frames(source, fps: float, size: int, channels: int, max_frames: int) -> np.ndarray:
    """A video file (path or file-like) -> uint8 frames [F, size, size, channels] sampled at `fps`, at most
    `max_frames`; raises DataError with the reason it cannot be read."""
    # deferred: PyAV loads FFmpeg's libraries; only video files need it
    import av

    mode = "L" if channels == 1 else "RGB"
    frames: list[np.ndarray] = []
    tol = 0.3 / fps  # timing jitter of a source (GIF delays are whole centiseconds) is not a skipped frame
    try:
        with av.open(source) as container:
            if not container.streams.video:
                raise DataError("holds no video stream")
            stream = container.streams.video[0]
            step = 1.0 / float(stream.average_rate or stream.guessed_rate or fps)  # the source's frame duration
            prev, next_t, t = None, 0.0, 0.0
            # each sampling instant k / fps shows the source's last frame at or before it
            for i, frame in enumerate(container.decode(stream)):
                t = frame.time if frame.time is not None else i * step
                if prev is None:
                    next_t = t
                while prev is not None and next_t + tol < t and len(frames) < max_frames:
                    frames.append(prev)
                    next_t += 1.0 / fps
                if len(frames) >= max_frames:
                    break
                prev = np.asarray(square(frame.to_image().convert(mode), size)).reshape(size, size, channels)
            # the last frame: shown at its own instant and for its duration
            while prev is not None and (next_t <= t + tol or next_t < t + step - tol) and len(frames) < max_frames:
                frames.append(prev)
                next_t += 1.0 / fps
    except DataError:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError) as e:
        raise DataError(f"not a video file PyAV reads ({str(e).splitlines()[0][:120]})") from None
    if not frames:
        raise DataError("empty (no frames)")
    return np.stack(frames)


def _is_video_folder(spec: str) -> bool:
    p = Path(spec)
    return p.is_dir() and any(f.suffix.lower() in EXTENSIONS for f in p.rglob("*"))


def file_clips(source, cfg, channels: int) -> np.ndarray:
    """One file's (a path or file-like) back-to-back clips [K, T, S, S, C]; DataError when it holds fewer than
    T frames."""
    frames = read_frames(source, cfg.fps, cfg.resolution, channels, cfg.frames * cfg.clips_per_file)
    if len(frames) < cfg.frames:
        raise DataError(f"too short: {len(frames)} frame(s) at {cfg.fps:g} fps, a clip needs data.frames={cfg.frames}")
    k = len(frames) // cfg.frames
    return frames[: k * cfg.frames].reshape(k, cfg.frames, *frames.shape[1:])


@register_source(
    "video-folder",
    _is_video_folder,
    "a folder of GIF/MP4/WebM/MOV/MKV/AVI files, first-level subfolders as labels",
    modality="video",
)
def load_video_folder(spec, cfg) -> RawVideo:
    root = Path(spec)
    files = sorted(f for f in root.rglob("*") if f.is_file() and f.suffix.lower() in EXTENSIONS)
    rel = [f.relative_to(root) for f in files]
    names = subfolder_classes(rel)
    channels = cfg.channels or 3
    per_file, problems = [], []
    for f, r in zip(files, rel):
        try:
            per_file.append((f, r, file_clips(f, cfg, channels)))
        except DataError as e:
            if cfg.strict:
                raise DataError(f"{f}: {e}; fix or remove it, or drop --set data.strict=true to skip it") from None
            problems.append((str(f), str(e)))
    if len(per_file) < 2:
        detail = f"; the first problem: {problems[0][0]}: {problems[0][1]}" if problems else ""
        raise DataError(
            f"{root}: {len(per_file)} usable video file(s) among {len(files)}; at least 2 are needed "
            f"(held-out clips come from files of their own){detail}"
        )
    tr, te, split = seeded_split(len(per_file), cfg, "video file")

    def gather(which):
        chosen = [per_file[i] for i in which]
        clips = np.concatenate([c for _, _, c in chosen])
        labels = np.array([names.index(r.parts[0]) for _, r, c in chosen for _ in c]) if names is not None else None
        ids = [f"{r}#{k}" for _, r, c in chosen for k in range(len(c))]
        return clips, labels, ids

    (clips, labels, ids), (test, test_labels, _) = gather(tr), gather(te)
    return RawVideo(
        name=root.name,
        clips=clips,
        labels=labels,
        class_names=names,
        test=test,
        test_labels=test_labels,
        split=f"by file ({split})",
        problems=problems,
        summary={"files": len(files), "usable_files": len(per_file)},
        ids=ids,
    )


# ---------------------------------------------------------------- preprocessing


def preprocess_video(raw: RawVideo, cfg) -> VideoData:
    """Channels, split (the source's own, or seeded), `limit`, fingerprint."""
    channels = cfg.channels or raw.clips.shape[-1]

    def convert(clips):
        n, t, h, w, c = clips.shape
        return convert_channels(clips.reshape(n * t, h, w, c), channels).reshape(n, t, h, w, channels)

    own_test = None if raw.test is None else convert(raw.test)
    parts = split_source(convert(raw.clips), raw.labels, raw.ids, cfg, "clip", own_test, raw.test_labels, raw.split)
    prep = {"fps": cfg.fps, "frames": cfg.frames, "resolution": cfg.resolution, "channels": channels}
    data = VideoData.build(raw, parts, prep | {"items": cfg.items}, fps=cfg.fps)
    data.train, data.test = np.ascontiguousarray(data.train), np.ascontiguousarray(data.test)
    return data


def load_video(cfg) -> VideoData:
    """Read `cfg.source` with the video source that recognises it, then preprocess."""
    return preprocess_video(find_source(cfg.source, "video").load(cfg.source, cfg), cfg)
