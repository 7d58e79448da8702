"""Generated video folders for the fuzz campaign: GIF and MP4 files of odd sizes, frame counts, rates and
colours, maybe damaged, misnamed or beside hostile entries, loaded the way `genforge data inspect` does."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from ...fuzz.cases import Case
from ...fuzz.data_cases import data_case, file_folder
from .animation import animation_bytes

EXTENSIONS = (".gif", ".mp4")


@lru_cache(maxsize=None)
def encoded(ext: str, frames: int, side: int, width: int, channels: int, fps: float) -> bytes:
    """A clip of noise as a file; kept, because x264's output may differ by a few bytes from one call to the
    next in a process, and hypothesis replays a case by its draws (a damage draws within the file's length)."""
    clip = np.random.default_rng(frames * side).integers(0, 256, (1, frames, side, width, channels), dtype=np.uint8)
    return animation_bytes(clip, fps, ext)


def video_bytes(data) -> tuple[bytes, str, str]:
    """One clip file: a GIF (PIL) or an H.264 MP4 (PyAV) of drawn size, frames, rate and channels."""
    ext = data.draw(st.sampled_from(EXTENSIONS))
    frames, side = data.draw(st.sampled_from([12, 6, 2, 1])), data.draw(st.sampled_from([16, 9, 40, 2]))
    width = data.draw(st.sampled_from([side, 2 * side, max(1, side // 3)]))
    channels = data.draw(st.sampled_from([1, 3]))
    fps = data.draw(st.sampled_from([8.0, 1.0, 30.0, 0.5]))
    blob = encoded(ext, frames, side, width, channels, fps)
    return blob, ext, f"{ext[1:]} {frames} frames {side}x{width}x{channels} {fps:g} fps"


def video_folder(data, tmp: Path) -> Case:
    root = tmp / "videos"
    whats = file_folder(data, root, video_bytes, (2, 5), [".webm", ".avi", *EXTENSIONS])
    sets = ["data.resolution=8", f"data.frames={data.draw(st.sampled_from([4, 2, 12]))}", "data.fps=8"]
    return data_case(data, root, "video", sets, f"video folder [{'; '.join(whats)}] {sets}")


TARGETS = {"video-folder": video_folder}  # found by genforge.fuzz
