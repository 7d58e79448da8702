"""A video VAE: the conv VAE's losses, prior and figures on 3-D convolutional networks over (time, height, width).

    encoder: clip [C, T, H, W] -> Conv3d 32 3x3x3 s2 -> ReLU -> Conv3d 64 s2 -> ... [c, t0, side, side]
             -> Flatten (+ one_hot(y)) -> Dense hidden -> ReLU -> z_mean [D], z_log_var [D]
    decoder: z [D] (+ one_hot(y)) -> Dense c * t0 * side * side -> ReLU -> [c, t0, side, side]
             -> ConvT3d s2 -> ReLU (+ `decoder_blocks` 3x3x3 residual blocks) ... -> ConvT3d C s2  (logits)

Unlike the image VAE's decoder, the last upsampling stage emits the logits: a stride-1 3x3x3 layer at full
resolution with few channels cost as much as the rest of a training step on a CPU.

Stages follow the video GAN's `plan`: each halves (encoder) or doubles (decoder) height and width, the first
ones also the frames. The ELBO, the likelihoods (bernoulli, gaussian, gaussian with learned sigma), KL
warm-up, free bits, the Gaussian-mixture sampling prior, the CVAE conditioning and the held-out figures
(ELBO, IWAE bound, bits per dim) are the image VAE's.
"""

from __future__ import annotations

from torch import nn

from ...models.base import FAMILIES, append_class
from ...models.vae import VAE, GaussianEncoder, ResBlock, VAEConfig, _channels
from .videogan import conv_stage, plan


class VideoVAEConfig(VAEConfig):
    pass


class VideoEncoder(GaussianEncoder):
    def __init__(self, cfg: VAEConfig, shape, n_classes: int = 0):
        super().__init__()
        t0, side, n, tn = plan(shape)
        layers: list[nn.Module] = []
        c = shape[0]
        for i in range(n):
            layers += [conv_stage(nn.Conv3d, c, _channels(i, cfg), 3, 2 if i < tn else 1, bias=True), nn.ReLU()]
            c = _channels(i, cfg)
        self.conv = nn.Sequential(*layers, nn.Flatten())  # [B, c * t0 * side * side]
        self.head(cfg, c * t0 * side * side, n_classes)


class VideoDecoder(nn.Module):
    def __init__(self, cfg: VAEConfig, shape, n_classes: int = 0):
        super().__init__()
        self.n_classes = n_classes
        self.t0, self.side, n, tn = plan(shape)
        self.c0 = _channels(n - 1, cfg)
        self.fc = nn.Sequential(nn.Linear(cfg.latent_dim + n_classes, self.c0 * self.t0 * self.side**2), nn.ReLU())
        out_maps = 2 * shape[0] if cfg.reconstruction == "gaussian_learned" else shape[0]
        layers: list[nn.Module] = []
        c = self.c0
        for i in reversed(range(n)):  # the encoder's stages mirrored: stage i doubles the frames when i < tn
            c_next = _channels(i - 1, cfg) if i else out_maps  # the last stage emits the logits
            layers.append(conv_stage(nn.ConvTranspose3d, c, c_next, 3, 2 if i < tn else 1, bias=True))
            if i:
                layers += [nn.ReLU()] + [ResBlock(c_next, nn.Conv3d) for _ in range(cfg.decoder_blocks)]
            c = c_next
        self.net = nn.Sequential(*layers)

    def forward(self, z, y=None):
        h = self.fc(append_class(z, y, self.n_classes))  # [B, D (+ K)] -> [B, c0 * t0 * side * side]
        return self.net(h.view(-1, self.c0, self.t0, self.side, self.side))  # [B, C, T, H, W] logits


@FAMILIES.register("video-vae")
class VideoVAE(VAE):
    """The conv VAE on clips [C, T, H, W]."""

    name = "video-vae"
    Config = VideoVAEConfig
    modality = "video"
    encoder_class = VideoEncoder
    decoder_class = VideoDecoder
    tiny = ("model.width=0.25", "model.hidden=32", "model.latent_dim=8", "model.prior_components=4")
    presets = {
        # The VAE of Kingma & Welling (2014) on clips: the plain ELBO with a Bernoulli decoder, an N(0, I) prior,
        # 32 latents, Adam 1e-3, batch 64.
        "paper": {"model": {"latent_dim": 32}, "train": {"lr": 1e-3, "betas": [0.9, 0.999], "batch_size": 64}},
        # For quality per CPU-minute (measured: docs/video.md): the image VAE's default recipe, a gaussian decoder
        # with a small sigma for sharp frames and samples drawn from a mixture fitted to the training codes.
        "default": {
            "model": {
                "latent_dim": 64,
                "reconstruction": "gaussian",
                "sigma": 0.05,
                "prior": "gmm",
                "prior_components": 20,
            },
            "train": {"lr": 1e-3, "betas": [0.9, 0.999], "batch_size": 32},
        },
    }
    default_preset = "default"
