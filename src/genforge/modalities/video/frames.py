"""The yardstick for a video model's frames: an image model trained on the same clips' frames.

    python -m genforge.modalities.video.frames frames moving-fashion runs/mf-frames.npz
    genforge train --model dcgan --data runs/mf-frames.npz --minutes 10 --set train.threads=1 --out runs/mf-image
    genforge sample runs/mf-image -n 1000 --out runs/mf-image.npz
    python -m genforge.modalities.video.frames still runs/mf-image.npz runs/mf-still.npz --data moving-fashion
    genforge evaluate --real moving-fashion --fake runs/mf-still.npz --metrics frame_fid
    python -m genforge.modalities.video.frames strip clips.npz frames.png --frames 0,4,8,12

`frames` writes a video data set's training and held-out clips as image arrays (every frame, each with its
clip's label); `still` turns images into clips that hold one image for every frame, so the video evaluation's
`frame_fid` (of single frames, in the extractor trained on the data's frames) scores the image model exactly as
it scores a video model's frames; `strip` draws chosen frames of clips as a PNG, a row a clip, a column a frame.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Optional

import numpy as np

from ...errors import DataError
from ...io import atomic_write, save_grid
from .modality import VideoDataConfig
from .sources import load_video


def save_npz(out: Path, **arrays: np.ndarray) -> None:
    """Arrays into an uncompressed .npz, written atomically."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(out, buf.getvalue())


def clip_frames(clips: np.ndarray, labels: Optional[np.ndarray]) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """A data set's clips uint8 [N, T, H, W, C] -> (frames uint8 [N * T, H, W, C], each frame's clip label or
    None)."""
    n, t = clips.shape[:2]
    return clips.reshape(n * t, *clips.shape[2:]), None if labels is None else np.repeat(labels, t)


def write_frames(source: str, out: Path, **settings) -> Path:
    """The frames of `source`'s training and held-out clips (read with data `settings`) as an image .npz (images,
    test_images, labels)."""
    data = load_video(VideoDataConfig(source=source, **settings))
    arrays = {}
    for split, key in (("train", "images"), ("test", "test_images")):
        frames, labels = clip_frames(getattr(data, split), getattr(data, f"{split}_labels"))
        arrays[key] = frames
        if labels is not None:
            arrays[key.replace("images", "labels")] = labels
    save_npz(out, **arrays)
    return out


def write_still(images: Path, out: Path, source: str, **settings) -> Path:
    """Images .npz (`images` uint8 [N, H, W, C]) -> clips .npz (`videos` [N, T, H, W, C]) of the shape of
    `source`'s clips (read with data `settings`)."""
    data = load_video(VideoDataConfig(source=source, **settings))
    c, t, h, w = data.shape
    with np.load(images, allow_pickle=False) as z:
        if "images" not in z:
            raise DataError(f"{images}: expected an .npz with key 'images' (uint8 [N, H, W, C])")
        still = np.asarray(z["images"])
    if still.dtype != np.uint8 or still.shape[1:] != (h, w, c):
        raise DataError(f"{images}: 'images' must be uint8 [N, {h}, {w}, {c}], got {still.dtype} {list(still.shape)}")
    save_npz(out, videos=np.repeat(still[:, None], t, axis=1), fps=np.float32(data.fps))
    return out


def write_strip(clips: Path, out: Path, frames: list[int], rows: int = 8) -> Path:
    """A PNG of frames `frames` of the first `rows` clips of a clips .npz (`videos` [N, T, H, W, C])."""
    with np.load(clips, allow_pickle=False) as z:
        videos = np.asarray(z["videos"])[:rows]
    if max(frames) >= videos.shape[1]:
        raise DataError(f"{clips}: its clips have {videos.shape[1]} frames; asked for frame {max(frames)}")
    save_grid(out, videos[:, frames].reshape(-1, *videos.shape[2:]), nrow=len(frames))
    return out


def main(argv: Optional[list[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("frames", help="a video data set's frames as an image .npz")
    f.add_argument("source")
    f.add_argument("out", type=Path)
    s = sub.add_parser("still", help="images as clips that hold each image")
    s.add_argument("images", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--data", default="moving-fashion", help="the video data set whose clip shape to take")
    g = sub.add_parser("strip", help="chosen frames of clips as a PNG, a row a clip")
    g.add_argument("clips", type=Path)
    g.add_argument("out", type=Path)
    g.add_argument("--frames", default="0,4,8,12", help="comma-separated frame indices")
    g.add_argument("--rows", type=int, default=8, help="clips to draw")
    a = p.parse_args(argv)
    if a.command == "frames":
        done = write_frames(a.source, a.out)
    elif a.command == "still":
        done = write_still(a.images, a.out, a.data)
    else:
        done = write_strip(a.clips, a.out, [int(f) for f in a.frames.split(",")], a.rows)
    print(f"wrote {done}")


if __name__ == "__main__":
    main()
