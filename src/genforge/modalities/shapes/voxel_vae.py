"""voxel-vae: a 3-D convolutional VAE of occupancy grids, after Brock, Lim, Ritchie & Weston (2016),
"Generative and discriminative voxel modeling with convolutional neural networks".

    encoder: grid [1, R, R, R] -> Conv3d 32 3x3x3 s2 -> ReLU -> Conv3d 64 s2 -> ... [c, 4, 4, 4]
             -> Flatten (+ one_hot(y)) -> Dense hidden -> ReLU -> z_mean [D], z_log_var [D]
    decoder: z [D] (+ one_hot(y)) -> Dense c * 4^3 -> ReLU -> [c, 4, 4, 4]
             -> ConvT3d s2 -> ReLU (+ `decoder_blocks` 3x3x3 residual blocks) ... -> ConvT3d 1 s2  (logits)

Brock et al.'s network is deeper (ELU, batch norm, residual stages) and is trained for days on a GPU; this is its
layout at CPU size: strided 3x3x3 convolutions, a dense bottleneck, the mirror in the decoder. The ELBO, the
likelihoods, KL warm-up, free bits, the fitted Gaussian-mixture prior, the CVAE conditioning and the held-out
figures are the image VAE's. Brock's weighted cross-entropy (filled voxels weighed 0.97, empty 0.03, as most of a
grid is empty) is not a likelihood; the `default` preset takes the image VAE's recipe instead, a gaussian decoder
with a small sigma, which weighs a missed filled voxel as much as a wrongly filled empty one.
"""

from __future__ import annotations

from torch import nn

from ...models.base import FAMILIES, append_class, stages
from ...models.vae import VAE, GaussianEncoder, ResBlock, VAEConfig, _channels
from .voxel_gan import voxel_stage


class VoxelVAEConfig(VAEConfig):
    pass


class VoxelEncoder(GaussianEncoder):
    def __init__(self, cfg: VAEConfig, shape, n_classes: int = 0):
        super().__init__()
        side, n = stages(shape[-1])
        layers: list[nn.Module] = []
        c = shape[0]
        for i in range(n):  # [B, 1, R^3] -> [B, 32w, (R/2)^3] -> ... -> [B, c, side^3]
            layers += [voxel_stage(nn.Conv3d, c, _channels(i, cfg), 3, bias=True), nn.ReLU()]
            c = _channels(i, cfg)
        self.conv = nn.Sequential(*layers, nn.Flatten())  # [B, c * side^3]
        self.head(cfg, c * side**3, n_classes)


class VoxelDecoder(nn.Module):
    def __init__(self, cfg: VAEConfig, shape, n_classes: int = 0):
        super().__init__()
        self.n_classes = n_classes
        self.side, n = stages(shape[-1])
        self.c0 = _channels(n - 1, cfg)
        self.fc = nn.Sequential(nn.Linear(cfg.latent_dim + n_classes, self.c0 * self.side**3), nn.ReLU())
        out_maps = 2 * shape[0] if cfg.reconstruction == "gaussian_learned" else shape[0]
        layers: list[nn.Module] = []
        c = self.c0
        for i in reversed(range(n)):  # the encoder's stages mirrored; the last one emits the logits
            c_next = _channels(i - 1, cfg) if i else out_maps
            layers.append(voxel_stage(nn.ConvTranspose3d, c, c_next, 3, bias=True))
            if i:
                layers += [nn.ReLU()] + [ResBlock(c_next, nn.Conv3d) for _ in range(cfg.decoder_blocks)]
            c = c_next
        self.net = nn.Sequential(*layers)

    def forward(self, z, y=None):
        h = self.fc(append_class(z, y, self.n_classes))  # [B, D (+ K)] -> [B, c0 * side^3]
        return self.net(h.view(-1, self.c0, self.side, self.side, self.side))  # [B, 1, R, R, R] logits


@FAMILIES.register("voxel-vae")
class VoxelVAE(VAE):
    """The conv VAE on occupancy grids [1, R, R, R]."""

    name = "voxel-vae"
    Config = VoxelVAEConfig
    modality = "shapes"
    encoder_class = VoxelEncoder
    decoder_class = VoxelDecoder
    tiny = ("model.width=0.25", "model.hidden=32", "model.latent_dim=8", "model.prior_components=4")
    presets = {
        # Brock et al.'s layout at CPU size with the plain ELBO: a Bernoulli decoder, an N(0, I) prior, 100
        # latents (the paper's), Adam 1e-3, batch 32.
        "paper": {"model": {"latent_dim": 100}, "train": {"lr": 1e-3, "betas": [0.9, 0.999], "batch_size": 32}},
        # For quality per CPU-minute (measured: docs/shapes.md): the image VAE's default recipe, a gaussian
        # decoder with a small sigma for crisp surfaces and samples drawn from a mixture fitted to the codes.
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
