"""Video: uint8 clips [N, T, C, H, W] stored, float [N, C, T, H, W] in [-1, 1] for models (torch's Conv3d
layout), animated GIF / WebP / MP4 grids, .npz and folders of GIFs for users."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ...config import BaseDataConfig
from ...errors import DataError, RunError
from ...io import CONFIG, atomic_write, img_tag, read_json
from ...limits import MAX_FPS, MIN_FPS
from ..base import Modality, file_tag, random_rows, register_modality
from ..image.dataset import to_float, to_uint8
from ..image.modality import blur, noise
from .animation import FORMATS, animation_bytes
from .report import format_video_report, video_report
from .sources import EXTENSIONS, file_clips, load_video


class VideoDataConfig(BaseDataConfig):
    """Video data: every clip `frames` frames of `resolution` pixels square, played at `fps`."""

    source: str = Field(
        "moving-digits", description="`moving-digits`, `moving-fashion`, or a path: a folder of GIF/MP4/WebM files"
    )
    resolution: int = Field(32, ge=8, le=256, description="square side of every frame in pixels (Moving MNIST: 64)")
    frames: int = Field(16, ge=2, le=128, description="frames per clip")
    fps: float = Field(
        8.0, ge=MIN_FPS, le=MAX_FPS, description="frame rate: files are sampled at it, samples play at it"
    )
    channels: Optional[Literal[1, 3]] = Field(
        None, description="1 (grayscale) or 3 (RGB); None keeps the source's own (moving sets 1, files 3)"
    )
    clips: int = Field(4000, ge=20, le=100_000, description="moving sets: training clips (test: x test_fraction)")
    items: int = Field(1, ge=1, le=4, description="moving sets: items per clip, all of one class (Moving MNIST: 2)")
    clips_per_file: int = Field(16, ge=1, description="folders: at most this many back-to-back clips from one file")


FEATURE_DIM = 128
MEMO_SIDE = 16  # near-copy vectors compare clips at 16 x 16 pixels a frame


@dataclass
class Videos:
    """What a user gets: uint8 clips [N, T, H, W, C] and their frame rate."""

    frames: np.ndarray
    fps: float

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i):
        return Videos(self.frames[i], self.fps) if isinstance(i, slice) else self.frames[i]


class VideoBackbone(nn.Module):
    """Clips [B, C, T, H, W] in [-1, 1] -> a small 3-D CNN -> features [B, 128] (global average pooled)."""

    def __init__(self, channels: int):
        super().__init__()

        def block(cin, cout, stride):
            return [nn.Conv3d(cin, cout, 3, stride, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU()]

        # strided from the first layer and narrow: about 16M multiply-adds a 16 x 32 x 32 clip, so that training
        # it (600 steps of 128 clips) takes minutes on a CPU
        self.net = nn.Sequential(
            *block(channels, 16, (1, 2, 2)),  # [B, 16, T, H/2, W/2]
            *block(16, 32, 2),  # [B, 32, T/2, H/4, W/4]
            *block(32, 64, 2),  # [B, 64, T/4, H/8, W/8]
            *block(64, FEATURE_DIM, (1, 2, 2)),  # [B, 128, T/4, H/16, W/16]
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),  # [B, 128]
        )

    def forward(self, x):
        return self.net(x)


def first_clip(source, shape, fps: float) -> np.ndarray:
    """The first clip uint8 [T, H, W, C] of a video file (a path or file-like) read as data of clips `shape`
    (C, T, H, W) at `fps` are; DataError with the reason when it cannot be."""
    c, t, h, _ = shape
    return file_clips(source, VideoDataConfig(resolution=h, frames=t, fps=fps, channels=c, clips_per_file=1), c)[0]


def frames_of(x: torch.Tensor) -> torch.Tensor:
    """Model-form clips [N, C, T, H, W] -> their frames [N * T, C, H, W] (image operations apply per frame)."""
    return x.transpose(1, 2).flatten(0, 1)


def clips_of(frames: torch.Tensor, t: int) -> torch.Tensor:
    """Frames [N * T, C, H, W] -> model-form clips [N, C, T, H, W] (the inverse of `frames_of`)."""
    return frames.unflatten(0, (-1, t)).transpose(1, 2)


@register_modality
class VideoModality(Modality):
    name = "video"
    DataConfig = VideoDataConfig
    unit = "clip"
    default_samples = 1000
    out_help = "an animated grid (.gif, .webp or .mp4), .npz (videos uint8 [N, T, H, W, C]) or a folder of .gif files"
    preview_suffix = ".gif"
    preview_media = "image/gif"
    formats = ("gif", "mp4", "json")
    extensions = EXTENSIONS
    preview_count = 16

    def load(self, cfg, run=None):
        return load_video(cfg)

    def codec(self, run: Path) -> float:
        """The run's frame rate (from its config)."""
        return float(read_json(run / CONFIG)["data"]["fps"])

    def report(self, data) -> dict:
        return video_report(data)

    def format_report(self, rep: dict) -> str:
        return format_video_report(rep)

    def to_model(self, stored):
        return to_float(stored).transpose(1, 2)  # uint8 [N, T, C, H, W] -> float [N, C, T, H, W] in [-1, 1]

    def to_stored(self, out):
        return to_uint8(out.transpose(1, 2)).cpu()

    def to_samples(self, stored, codec=None) -> Videos:
        return Videos(stored.permute(0, 1, 3, 4, 2).numpy(), float(codec))  # uint8 [N, T, H, W, C]

    def concat(self, parts):
        return Videos(np.concatenate([p.frames for p in parts]), parts[0].fps)

    def write(self, samples, out, labels=None, nrow=None, class_names=None) -> Path:
        """.gif/.webp/.mp4: the clips as one animated grid; .npz: videos, fps, labels; no suffix: a folder of
        NNN[_class].gif."""
        out = Path(out)
        suffix = out.suffix.lower()
        if suffix in FORMATS:
            atomic_write(out, animation_bytes(samples.frames, samples.fps, suffix, nrow))
        elif suffix == ".npz":
            buf = io.BytesIO()
            extra = {"labels": np.asarray(labels)} if labels is not None else {}
            np.savez_compressed(buf, videos=samples.frames, fps=samples.fps, **extra)
            atomic_write(out, buf.getvalue())
        elif suffix:
            raise RunError(f"--out {out}: a video model writes {self.out_help}")
        else:
            out.mkdir(parents=True, exist_ok=True)
            width = len(str(len(samples) - 1))
            for i, clip in enumerate(samples.frames):
                name = f"{i:0{width}d}{file_tag(labels, i, class_names)}.gif"
                atomic_write(out / name, animation_bytes(clip[None], samples.fps, ".gif"))
        return out

    def read(self, path, data):
        """.npz with `videos` uint8 [N, T, H, W, C] (and `labels`) of the data's shape, or a folder of video
        files (the first clip of each, read as the data's are); errors name the file."""
        path = Path(path)
        c, t, h, w = data.shape
        if path.is_dir():
            files = sorted(f for f in path.rglob("*") if f.suffix.lower() in EXTENSIONS)
            if not files:
                raise DataError(f"{path}: no video files ({', '.join(EXTENSIONS)})")
            clips = []
            for f in files:
                try:
                    clips.append(first_clip(f, data.shape, data.fps))
                except DataError as e:
                    raise DataError(f"{f}: {e}") from None
            return torch.from_numpy(np.stack(clips)).permute(0, 1, 4, 2, 3).contiguous(), None
        if path.suffix.lower() != ".npz":
            raise DataError(f"{path}: expected {self.out_help}")
        try:
            with np.load(path, allow_pickle=False) as z:
                videos = np.asarray(z["videos"])
                labels = torch.from_numpy(z["labels"].astype(np.int64)) if "labels" in z else None
        except (OSError, ValueError, KeyError) as e:
            raise DataError(f"{path}: expected an .npz with key 'videos' (uint8 [N, T, H, W, C]) ({e})") from None
        if videos.dtype != np.uint8 or videos.shape[1:] != (t, h, w, c):
            raise DataError(
                f"{path}: 'videos' must be uint8 [N, {t}, {h}, {w}, {c}] like the data's clips, "
                f"got {videos.dtype} {list(videos.shape)}"
            )
        return torch.from_numpy(videos).permute(0, 1, 4, 2, 3).contiguous(), labels

    def preview(self, samples, nrow=None, labels=None) -> bytes:
        return animation_bytes(samples.frames[: self.preview_count], samples.fps, ".gif", nrow)

    def html(self, samples, nrow=None, labels=None, caption="") -> str:
        gif = img_tag(animation_bytes(samples.frames, samples.fps, ".gif", nrow), caption or "clips", media="image/gif")
        return f"<figure>{gif}<figcaption>{html.escape(caption)}</figcaption></figure>" if caption else gif

    def preview_html(self, blob, caption):
        pic = img_tag(blob, caption, 220, media="image/gif")
        return f"<figure>{pic}<figcaption>{html.escape(caption)}</figcaption></figure>"

    def response(self, samples, fmt, nrow=None, labels=None):
        # deferred: only the server's answers need fastapi
        from fastapi.responses import JSONResponse, Response

        if fmt == "json":
            gifs = [base64.b64encode(animation_bytes(c[None], samples.fps, ".gif")).decode() for c in samples.frames]
            shape = list(samples.frames.shape[1:])
            extra = {"labels": labels} if labels else {}
            return JSONResponse({"clips": gifs, "fps": samples.fps, "shape": shape} | extra)
        media = "video/mp4" if fmt == "mp4" else "image/gif"
        return Response(animation_bytes(samples.frames, samples.fps, f".{fmt}", nrow), media_type=media)

    def from_upload(self, body: bytes, shape, codec=None) -> torch.Tensor:
        """An uploaded GIF/MP4/WebM file -> stored [1, T, C, H, W]: its first T frames at the model's rate and size."""
        try:
            clip = first_clip(io.BytesIO(body), shape, float(codec))  # [T, H, W, C]
        except DataError as e:
            raise ValueError(str(e)) from None
        return torch.from_numpy(np.ascontiguousarray(clip)).permute(0, 3, 1, 2)[None]

    def backbone(self, data) -> nn.Module:
        return VideoBackbone(data.shape[0])

    def augment(self, x, strength, gen):
        """Per clip (the same for all its frames): a random shift and zoom, and from strength 0.5 brightness
        and contrast jitter; x [B, C, T, H, W]."""
        b, _, t = x.shape[:3]
        r = lambda *s: torch.rand(*s, generator=gen).to(x.device)  # noqa: E731
        theta = torch.zeros(b, 2, 3, device=x.device)
        theta[:, 0, 0] = theta[:, 1, 1] = 1.0 - 0.3 * strength * r(b)  # zoom in up to 30%
        theta[:, :, 2] = (r(b, 2) * 2 - 1) * 0.25 * strength
        frames = frames_of(x)
        grid = F.affine_grid(theta.repeat_interleave(t, 0), list(frames.shape), align_corners=False)
        out = clips_of(F.grid_sample(frames, grid, padding_mode="border", align_corners=False), t)
        if strength >= 0.5:
            contrast, bright = 1 + (r(b, 1, 1, 1, 1) * 2 - 1) * 0.4 * strength, (r(b, 1, 1, 1, 1) * 2 - 1) * 0.2
            out = (out * contrast + bright * strength).clamp(-1, 1)
        return out

    def memo_vectors(self, stored, codec=None):
        """Every frame at MEMO_SIDE x MEMO_SIDE pixels, flattened: a near copy looks the same frame by frame."""
        t = stored.shape[1]
        pool = lambda x: F.adaptive_avg_pool3d(self.to_model(x), (t, MEMO_SIDE, MEMO_SIDE)).flatten(1)  # noqa: E731
        return torch.cat([pool(part) for part in stored.split(256)])

    def sanity_conditions(self, data, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
        """name -> uint8 'samples' [n', T, C, H, W] with a known fault: frozen first frames, frames in a random
        order, blur and noise on every frame, one class, training clips."""
        g = torch.Generator().manual_seed(seed)
        test, train = data.tensor("test"), data.tensor("train")
        real = random_rows(test, n, g)
        t = real.shape[1]
        per_frame = lambda f, *a: f(real.flatten(0, 1), *a).unflatten(0, (-1, t))  # noqa: E731
        out = {"real (floor)": real, "frozen first frame": real[:, :1].expand_as(real).contiguous()}
        out["shuffled frames"] = real[:, torch.randperm(t, generator=g)]
        out["blur sigma=1.0"] = per_frame(blur, 1.0)
        out["noise sigma=0.1"] = per_frame(noise, 0.1, seed)
        if data.test_labels is not None and data.n_classes >= 2:
            out["one class (0)"] = random_rows(test[data.labels("test") == 0], n, g)
        out["training clips"] = random_rows(train, n, g)
        return out
