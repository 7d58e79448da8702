"""Animated files of clips: a grid of clips played together, as GIF, WebP or MP4 bytes.

Frames are uint8 [T, H, W, C] (C = 1 or 3); a grid of N clips [N, T, H, W, C] is laid out frame by frame
with `io.grid`, so a moving grid looks like the still grids of images (tiles upscaled to at least 32 px).
"""

from __future__ import annotations

import io
from fractions import Fraction
from typing import Optional

import numpy as np
from PIL import Image

from ...io import grid

FORMATS = (".gif", ".webp", ".mp4")


def grid_frames(clips: np.ndarray, nrow: Optional[int] = None) -> list[Image.Image]:
    """Clips uint8 [N, T, H, W, C] -> T pictures, each the grid of the clips' frame t; one clip is its own
    frames, pixel for pixel (a file of one clip reads back as the clip)."""
    if len(clips) == 1:
        return [Image.fromarray(f.squeeze(-1) if f.shape[-1] == 1 else f) for f in clips[0]]
    return [grid(clips[:, t], nrow) for t in range(clips.shape[1])]


def _pillow(frames: list[Image.Image], fps: float, fmt: str) -> bytes:
    buf = io.BytesIO()
    extra = {"lossless": True} if fmt == "WEBP" else {"optimize": False}
    frames[0].save(
        buf, format=fmt, save_all=True, append_images=frames[1:], duration=round(1000 / fps), loop=0, **extra
    )
    return buf.getvalue()


def _mp4(frames: list[Image.Image], fps: float) -> bytes:
    # deferred: PyAV loads FFmpeg's libraries; only MP4 files need it
    import av

    w, h = frames[0].size
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        rate = Fraction(fps).limit_denominator(1000)
        stream = out.add_stream("libx264", rate=rate)
        stream.time_base = 1 / rate
        stream.width, stream.height = w + w % 2, h + h % 2  # H.264's 4:2:0 needs even sides
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18"}
        for i, img in enumerate(frames):
            canvas = Image.new("RGB", (stream.width, stream.height), "white")
            canvas.paste(img.convert("RGB"))
            frame = av.VideoFrame.from_image(canvas)
            frame.pts = i  # in the stream's time base, 1 / fps: frame i at i / fps
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return buf.getvalue()


def animation_bytes(clips: np.ndarray, fps: float, suffix: str, nrow: Optional[int] = None) -> bytes:
    """Clips uint8 [N, T, H, W, C] played together as one animated grid: the bytes of a .gif, .webp or .mp4."""
    frames = grid_frames(clips, nrow)
    if suffix == ".mp4":
        return _mp4(frames, fps)
    return _pillow(frames, fps, "GIF" if suffix == ".gif" else "WEBP")
