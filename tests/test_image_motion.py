"""image-motion: an image model of the frames and a motion generator that moves its images."""

import numpy as np
import pytest
import torch
from PIL import Image

from genforge.errors import ConfigError
from genforge.io import grid
from genforge.modalities import MODALITIES
from genforge.modalities.video.frames import write_frames, write_still, write_strip
from genforge.modalities.video.image_motion import centre_of_brightness, shift
from genforge.modalities.video.report import frame_change
from genforge.run import build_model
from genforge.sample import export

from .conftest import VIDEO, tiny_config, trained

VIDEO_MOD = MODALITIES.get("video")


def _dot(h: int, w: int, row: int, col: int) -> torch.Tensor:
    """One white pixel on black, [1, 1, h, w] in [-1, 1]."""
    frame = torch.full((1, 1, h, w), -1.0)
    frame[0, 0, row, col] = 1.0
    return frame


def test_shift_moves_the_picture_by_whole_pixels_and_lets_black_in():
    frame = _dot(8, 8, 2, 3)
    px = 2 / 8  # one pixel in grid_sample's [-1, 1] coordinates
    offsets = torch.tensor([[[0.0, 0.0], [2 * px, 0.0], [0.0, -1 * px], [20 * px, 0.0]]])  # [1, T=4, (x, y)]
    clip = shift(frame, offsets)  # [1, 1, 4, 8, 8]
    assert torch.equal(clip[0, 0, 0], frame[0, 0])
    assert clip[0, 0, 1, 2, 5] == 1.0 and clip[0, 0, 2, 1, 3] == 1.0  # two to the right; one up
    assert torch.all(clip[0, 0, 3] == -1.0)  # moved out of the frame: all black, nothing wraps around
    centre = centre_of_brightness(clip[0, :, 1:3].transpose(0, 1))  # frames 1 and 2 -> their dots' centres
    torch.testing.assert_close(centre, torch.tensor([[-1 + 5.5 * px, -1 + 2.5 * px], [-1 + 3.5 * px, -1 + 1.5 * px]]))


def test_a_clip_is_a_picture_started_where_a_training_clip_starts_and_moved(video_data):
    model = build_model(tiny_config("image-motion"), video_data.shape).eval()
    model.fit_data(video_data.tensor("train"), VIDEO_MOD.to_model)
    starts = centre_of_brightness(VIDEO_MOD.to_model(video_data.tensor("train"))[:, :, 0])  # [N, 2]
    torch.testing.assert_close(model.starts[[0, -1], 0], torch.stack(starts[:, 0].aminmax()))  # sorted by x, all
    dm = model.cfg.motion_dim
    z = model.prior(1, torch.Generator().manual_seed(0)).repeat(2, 1)  # one picture, one path...
    z[:, -dm] = torch.tensor([-4.0, 4.0])  # ...started at the leftmost and at the rightmost start
    clips = model.decode(z)  # [2, 1, 8, 16, 16]
    left, right = centre_of_brightness(clips[:, :, 0])[:, 0]
    assert left < right
    assert frame_change(VIDEO_MOD.to_stored(clips).numpy()).mean() > 0  # and it moves


def test_a_path_keeps_its_speed_and_turns_round_at_the_edge_of_the_datas_range(video_data):
    model = build_model(tiny_config("image-motion"), video_data.shape)
    model.fit_data(video_data.tensor("train"), VIDEO_MOD.to_model)
    lo, hi = model.motion.bounds
    with torch.no_grad():  # an untrained path: a first velocity, then kept (tanh(3) a frame)
        model.motion.first.bias.copy_(torch.tensor([3.0, 0.0]))  # fast to the right
        path = model.motion(torch.zeros(1, model.cfg.motion_dim), model.starts[:1])[0]  # [T, 2]
    x = model.starts[0, 0] + path[:, 0]
    assert (x <= hi[0] + 1e-6).all() and (x >= lo[0] - 1e-6).all()
    steps = x.diff()
    assert steps[0] > 0 and (steps < 0).any()  # it went right and came back


def test_the_motion_gan_learns_the_datas_speed(video_data):
    """Only the motion half trains here: real first frames moved along generated paths, against real clips, from
    a motion generator that starts by holding every picture still."""
    torch.manual_seed(0)
    cfg = tiny_config("image-motion")
    model = build_model(cfg, video_data.shape)
    torch.nn.init.zeros_(model.motion.first.weight)
    torch.nn.init.zeros_(model.motion.first.bias)
    opts = model.configure_optimizers(cfg.train)
    x = VIDEO_MOD.to_model(video_data.tensor("train"))
    real_speed = frame_change(video_data.train).mean()

    def speed() -> float:
        """The moved clips' mean frame-to-frame change over the real clips'."""
        with torch.no_grad():
            first = x[:64, :, 0]
            path = model.motion(torch.randn(64, cfg.model.motion_dim), centre_of_brightness(first))
            moved = VIDEO_MOD.to_stored(shift(first, path, True)).numpy()
        return float(frame_change(moved).mean() / real_speed)

    assert speed() == 0  # (its first velocity zeroed: an untrained path holds the picture still)
    for _ in range(100):
        model._motion_step(x[torch.randint(len(x), (32,))], opts)
    assert 0.5 < speed() < 1.5


def test_a_vae_image_model_samples_from_the_mixture_fitted_to_the_frames(video_data, tmp_path):
    sets = ("model.image_family=vae", "model.image.latent_dim=8", "model.image.prior_components=3")
    _, model = trained(tiny_config("image-motion", *sets, "train.steps=3"), tmp_path / "run", video_data)
    assert bool(model.image.gmm.fitted)
    z = model.prior(500, torch.Generator().manual_seed(0))
    assert z.shape == (500, 8 + model.cfg.motion_dim)
    # the content codes are the mixture's draws, with the same generator
    torch.testing.assert_close(z[:, :8], model.image.gmm.sample(500, torch.Generator().manual_seed(0)))


def test_the_image_models_settings_are_checked_with_its_names():
    with pytest.raises(ConfigError, match="model.image for dcgan.*no_such"):
        tiny_config("image-motion", "model.image.no_such=1")
    with pytest.raises(ConfigError, match="model.image for vae.*latent_dim"):
        tiny_config("image-motion", "model.image_family=vae", "model.image.latent_dim=0")


def test_onnx_export_of_the_animator_computes_what_pytorch_computes(video_data, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = build_model(tiny_config("image-motion"), video_data.shape).eval()
    path = export(model, "onnx", tmp_path / "g.onnx")
    z = torch.randn(3, model.latent_dim)  # a batch size other than the one traced
    got = ort.InferenceSession(str(path)).run(None, {"z": z.numpy()})[0]
    np.testing.assert_allclose(got, model.decode(z).detach().numpy(), atol=1e-5)


def test_frames_and_still_clips_carry_a_video_set_to_the_image_models_and_back(tmp_path):
    frames = write_frames("moving-digits", tmp_path / "frames.npz", **VIDEO)
    with np.load(frames) as z:
        assert z["images"].shape == (160 * 8, 16, 16, 1) and z["labels"].shape == (160 * 8,)
        assert z["test_images"].shape[1:] == (16, 16, 1)
        np.savez(tmp_path / "images.npz", images=z["test_images"][:5])
    still = write_still(tmp_path / "images.npz", tmp_path / "still.npz", "moving-digits", **VIDEO)
    with np.load(still) as z:
        assert z["videos"].shape == (5, 8, 16, 16, 1)
        assert (z["videos"] == z["videos"][:, :1]).all()  # every frame holds its image
    strip = write_strip(still, tmp_path / "strip.png", [0, 3, 7], rows=2)
    assert Image.open(strip).size == grid(np.zeros((6, 16, 16, 1), np.uint8), nrow=3).size  # 2 rows of 3 frames
