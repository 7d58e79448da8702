"""The video modality: moving sets, video files read and written, bad files named, video models, animations."""

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

import genforge
from genforge.cli import app
from genforge.errors import ConfigError, DataError
from genforge.evaluate import evaluate_samples
from genforge.evaluate.features import get_extractor
from genforge.modalities import MODALITIES
from genforge.modalities.video.modality import VideoDataConfig
from genforge.modalities.video.report import frame_change
from genforge.modalities.video.sources import load_video
from genforge.report import write_report
from genforge.run import build_model
from genforge.sample import animate, export, write_animation
from genforge.serve import create_app
from genforge.train import Trainer

from .conftest import VIDEO, tiny_config

VIDEO_MOD = MODALITIES.get("video")


def test_moving_digits_move_bounce_and_hold_out_their_items(video_data):
    n, t, h, w, c = video_data.train.shape
    assert (t, h, w, c) == (8, 16, 16, 1) and n == 160 and len(video_data.test) == 16
    assert video_data.shape == (1, 8, 16, 16) and video_data.tensor("test").shape == (16, 8, 1, 16, 16)
    assert (frame_change(video_data.train) > 0).all()  # every clip moves
    assert (video_data.train.reshape(n, t, -1).max(2) > 100).all()  # and its item stays in every frame
    assert sorted(set(video_data.train_labels)) == list(range(10)) and "by item" in video_data.split
    again = load_video(VideoDataConfig(**VIDEO))  # seeded: the same clips again
    assert again.fingerprint == video_data.fingerprint


def _write_files(root, clips):
    """clips [N, T, H, W, 3] as a GIF (PIL), an MP4 (H.264) and a WebM (VP9) file of class folders."""
    import av

    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    VIDEO_MOD.write(VIDEO_MOD.to_samples(torch.from_numpy(clips[:1]).permute(0, 1, 4, 2, 3), 8.0), root / "a/x.gif")
    for name, codec in (("a/y.mp4", "libx264"), ("b/z.webm", "libvpx-vp9")):
        with av.open(str(root / name), "w") as out:
            s = out.add_stream(codec, rate=8)
            s.width, s.height, s.pix_fmt = clips.shape[3], clips.shape[2], "yuv420p"
            for f in clips[1]:
                out.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
            out.mux(s.encode())


def test_gif_mp4_and_webm_files_are_read_at_the_data_rate_and_named_when_bad(video_data, tmp_path):
    clips = np.repeat(video_data.train[:2], 3, axis=-1)  # RGB, [2, 8, 16, 16, 3]
    root = tmp_path / "videos"
    _write_files(root, np.concatenate([clips, clips], axis=1))  # 16 frames a file: two clips of 8
    (root / "b" / "broken.mp4").write_bytes(b"not a video at all" * 20)
    (root / "b" / "empty.gif").write_bytes(b"")
    Image.fromarray(clips[0, 0]).save(root / "b" / "still.gif")  # one frame: too short for a clip
    cfg = VideoDataConfig(source=str(root), resolution=16, frames=8, fps=8.0, test_fraction=0.34)
    data = load_video(cfg)
    assert data.shape == (3, 8, 16, 16) and data.class_names == ["a", "b"]
    assert len(data.train) + len(data.test) == 6 and "by file" in data.split  # two clips from each good file
    problems = dict(data.problems)
    assert set(problems) == {str(root / "b" / f) for f in ("broken.mp4", "empty.gif", "still.gif")}
    assert "too short" in problems[str(root / "b" / "still.gif")]
    # the GIF reads back exactly; the lossy codecs closely
    every = np.concatenate([data.train, data.test]).astype(float)
    errors = [np.abs(every - clip.astype(float)).mean(axis=(1, 2, 3, 4)).min() for clip in clips]
    assert errors[0] == 0 and errors[1] < 6, errors
    with pytest.raises(DataError, match="broken.mp4"):
        load_video(cfg.model_copy(update={"strict": True}))


def test_samples_are_written_as_animations_npz_and_gif_folders_and_read_back(video_data, tmp_path):
    stored = video_data.tensor("test")[:4]
    samples = VIDEO_MOD.to_samples(stored, video_data.codec)
    for suffix in (".gif", ".webp", ".mp4"):
        blob = VIDEO_MOD.write(samples, tmp_path / f"grid{suffix}", nrow=2).read_bytes()
        assert blob[:4] in (b"GIF8", b"RIFF") or blob[4:8] == b"ftyp"
    with Image.open(tmp_path / "grid.gif") as im:
        assert im.n_frames == 8 and im.size[0] > 2 * 16  # a 2 x 2 grid, every frame
    VIDEO_MOD.write(samples, tmp_path / "s.npz", labels=np.arange(4))
    back, labels = VIDEO_MOD.read(tmp_path / "s.npz", video_data)
    assert torch.equal(back, stored) and labels.tolist() == [0, 1, 2, 3]
    VIDEO_MOD.write(samples, tmp_path / "folder", labels=np.arange(4), class_names=video_data.class_names)
    assert torch.equal(VIDEO_MOD.read(tmp_path / "folder", video_data)[0], stored)  # one exact GIF a clip
    upload = VIDEO_MOD.from_upload((tmp_path / "folder" / "0_0.gif").read_bytes(), video_data.shape, 8.0)
    assert torch.equal(upload, stored[:1])
    with pytest.raises(ValueError, match="PyAV"):
        VIDEO_MOD.from_upload(b"GIF89a broken", video_data.shape, 8.0)
    np.savez(tmp_path / "bad.npz", videos=np.zeros((2, 8, 16, 16, 3), np.uint8))
    with pytest.raises(DataError, match="bad.npz"):
        VIDEO_MOD.read(tmp_path / "bad.npz", video_data)


def test_motion_and_clip_distance_tell_frozen_and_shuffled_clips_from_real(video_data):
    ext = get_extractor(video_data, steps=60, log=None)
    conds = VIDEO_MOD.sanity_conditions(video_data, 16)
    figs = {
        k: evaluate_samples(v, video_data, ext, ["motion_gap", "fd"], floors=False, n_real=160)["metrics"]
        for k, v in conds.items()
        if k in ("real (floor)", "frozen first frame", "shuffled frames")
    }
    gap = {k: f["motion_gap"]["value"] for k, f in figs.items()}
    assert gap["frozen first frame"] > 3 * gap["real (floor)"] and gap["shuffled frames"] > 2 * gap["real (floor)"]
    assert figs["frozen first frame"]["motion_gap"]["change"] == 0
    assert figs["frozen first frame"]["fd"]["value"] > figs["real (floor)"]["fd"]["value"]


@pytest.fixture(scope="module")
def videogan_run(video_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("videogan")
    cfg = tiny_config("videogan", "train.steps=40", "model.conditional=true", source="moving-digits")
    Trainer(cfg, run, data=video_data, progress=False, log=lambda s: None).fit()
    return run


@pytest.mark.integration
def test_a_video_model_makes_moving_clips_of_the_asked_class_everywhere(videogan_run, video_data, tmp_path):
    model = genforge.load(videogan_run)
    clips = model.sample(8, seed=1, label=3)
    assert clips.shape == (8, 1, 8, 16, 16)
    stored = VIDEO_MOD.to_stored(clips)
    assert frame_change(stored.numpy()).min() > 0.1 * frame_change(video_data.train).mean()  # not frozen
    res = CliRunner().invoke(
        app, ["sample", str(videogan_run), "-n", "4", "--class", "3", "--out", str(tmp_path / "s.gif")]
    )
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "s.gif") as im:
        assert im.n_frames == 8
    client = TestClient(create_app([videogan_run]))
    r = client.get(f"/api/{videogan_run.name}/generate?n=4&class=3")
    assert r.headers["content-type"] == "image/gif" and r.content[:4] == b"GIF8"
    j = client.get(f"/api/{videogan_run.name}/generate?n=2&format=json").json()
    assert len(j["clips"]) == 2 and j["shape"] == [8, 16, 16, 1] and j["fps"] == 8.0
    page = write_report(videogan_run).read_text()
    assert "data:image/gif;base64," in page and 'src="http' not in page


def test_animation_loops_smoothly_through_the_latent_space(digits, tmp_path):
    model = build_model(tiny_config("dcgan", "model.conditional=true"), digits.shape, digits.n_classes)
    model.dataset_info = {"class_names": digits.class_names}
    clips, labels, per_row = animate(model, walks=20, frames=6, points=3, seed=0)
    assert clips.frames.shape == (20, 19, 8, 8, 1) and per_row == 2 and labels.tolist() == sorted(list(range(10)) * 2)
    assert animate(model, walks=10, frames=1, points=2)[2] == 10  # one walk a class: the classes in one row
    x = clips.frames.astype(float)
    assert np.array_equal(x[:, 0], x[:, -1])  # the last frame is the first: the loop closes
    step = np.abs(np.diff(x, axis=1)).mean()
    apart = np.abs(x[:, 0] - x[:, 6]).mean()  # two of the walk's points
    assert step < 0.5 * apart
    path = write_animation(model, clips, tmp_path / "walk.gif", per_row, labels)
    with Image.open(path) as im:
        assert im.n_frames == 19
    with pytest.raises(ConfigError, match="image model"):
        animate(build_model(tiny_config("videogan"), (1, 8, 16, 16)), 1)


def test_content_motion_generator_draws_frames_from_one_content_code_and_a_motion_path(video_data):
    cfg = tiny_config("videogan", "model.generator=content-motion", "model.frame_critic=true", "model.motion_dim=4")
    model = build_model(cfg, video_data.shape, video_data.n_classes)
    opts = model.configure_optimizers(cfg.train)
    x = VIDEO_MOD.to_model(video_data.tensor("train")[:8])
    losses = model.train_step(x, None, opts)
    assert all(torch.isfinite(v) for v in losses.values())
    z = torch.randn(2, cfg.model.latent_dim)
    moved = z.clone()
    moved[:, -4:] = torch.randn(2, 4)  # another motion code, the same content
    model.eval()
    a, b = model.decode(z), model.decode(moved)
    assert a.shape == (2, 1, 8, 16, 16) and not torch.allclose(a, b)
    assert (a[:, :, 1:] - a[:, :, :-1]).abs().mean() > 0  # the GRU's path moves the frames
    with pytest.raises(ConfigError, match="odd kernel"):
        tiny_config("videogan", "model.generator=content-motion", "model.kernel=4")


@pytest.mark.parametrize("generator", ["3d", "content-motion"])
def test_onnx_export_of_a_video_generator_computes_what_pytorch_computes(generator, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = build_model(tiny_config("videogan", f"model.generator={generator}"), (1, 8, 16, 16)).eval()
    path = export(model, "onnx", tmp_path / "g.onnx")
    z = torch.randn(3, model.latent_dim)  # a batch size other than the one traced
    got = ort.InferenceSession(str(path)).run(None, {"z": z.numpy()})[0]
    np.testing.assert_allclose(got, model.decode(z).detach().numpy(), atol=1e-5)


@pytest.mark.integration
def test_browser_plays_generated_clips(videogan_run):
    from .test_serve import CHROMIUM, browser_on

    if not __import__("os").path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with browser_on(create_app([videogan_run])) as (page, url):
        page.goto(url)
        page.wait_for_function("document.getElementById('grid')?.naturalWidth > 0")  # the video widget's GIF
        assert page.evaluate("document.getElementById('grid').src.startsWith('blob:')")
