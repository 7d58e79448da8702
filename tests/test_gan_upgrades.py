import pytest
import torch

import genforge
from genforge.errors import ConfigError
from genforge.losses import GAN_LOSSES
from genforge.losses.augment import diff_augment
from genforge.losses.gan import gradient_penalty, r1_penalty
from genforge.modalities.image.dataset import load_data
from genforge.modalities.image.modality import ImageDataConfig
from genforge.models import FAMILIES
from genforge.run import resolve_config
from genforge.train import Trainer

from .conftest import tiny_config
from .test_train import nn_distance, quiet, vae_test_loss_before_after


def dcgan(*sets):
    cfg = resolve_config("dcgan", sets=["model.width=0.25", *sets])
    return FAMILIES.get("dcgan")(cfg.model, (1, 8, 8)), cfg


def test_hinge_and_wgan_formulas():
    r, f = torch.tensor([2.0, 0.5]), torch.tensor([-0.5, 1.5])
    assert torch.allclose(GAN_LOSSES["hinge"].d(r, f), torch.relu(1 - r).mean() + torch.relu(1 + f).mean())
    assert torch.allclose(GAN_LOSSES["wgan"].d(r, f), f.mean() - r.mean())
    assert torch.allclose(GAN_LOSSES["hinge"].g(f), -f.mean())


def test_spectral_norm_bounds_every_discriminator_layer():
    m, _ = dcgan("model.spectral_norm=true")
    x = torch.randn(16, 1, 8, 8)
    for _ in range(30):  # power iterations run in training-mode forwards
        m.D(x)
    m.eval()
    for layer in m.D.modules():
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            sigma = torch.linalg.matrix_norm(layer.weight.flatten(1), ord=2)
            assert 0.9 < sigma < 1.1, sigma


@pytest.mark.integration
def test_batch_norm_in_d_follows_the_dcgan_paper_and_learns(tmp_path):
    digits16 = load_data(ImageDataConfig(source="digits", resolution=16))  # two stride-2 convs in D
    cfg = tiny_config("dcgan", "model.d_norm=batch", "data.resolution=16", "train.steps=300")
    tr = Trainer(cfg, tmp_path, data=digits16, **quiet())
    convs = [layer for layer in tr.model.D.net if isinstance(layer, torch.nn.Conv2d)]
    norms = [layer for layer in tr.model.D.net if isinstance(layer, torch.nn.BatchNorm2d)]
    assert len(convs) == 2 and len(norms) == 1  # every conv but the first, which sees the images
    assert convs[0].bias is not None and convs[1].bias is None  # BN's shift is the second conv's bias
    real = digits16.tensor("test").float() / 127.5 - 1
    before = nn_distance(tr.model.sample(128, seed=1), real)
    tr.fit()
    assert nn_distance(tr.model.sample(128, seed=1), real) < 0.8 * before
    tr.model.eval()  # the critic scores each image on its own, with the running statistics
    assert torch.allclose(tr.model.critic(real[:6])[:2], tr.model.critic(real[:2]), atol=1e-5)
    with pytest.raises(ConfigError, match="d_norm"):
        resolve_config("dcgan", sets=["model.d_norm=batch", "model.gp_weight=10"])


def test_penalties_are_positive_and_differentiable():
    m, _ = dcgan()
    real, fake = torch.randn(8, 1, 8, 8), torch.randn(8, 1, 8, 8)
    for pen in (r1_penalty(m.D, real), gradient_penalty(m.D, real, fake)):
        assert pen > 0
        pen.backward()
        assert all(torch.isfinite(p.grad).all() for p in m.D.parameters() if p.grad is not None)


def test_diff_augment_keeps_shape_and_passes_gradients():
    x = torch.rand(6, 3, 16, 16, requires_grad=True) * 2 - 1
    x.retain_grad()
    for policy in ("color", "translation", "cutout", "color,translation,cutout"):
        y = diff_augment(x, policy)
        assert y.shape == x.shape and not torch.equal(y, x)
    y.sum().backward()
    assert x.grad.abs().sum() > 0
    assert (diff_augment(x, "cutout") == 0).float().mean() > 0.1  # a square of each image is zeroed
    assert diff_augment(x, "") is x


def test_diff_augment_moves_clips_in_time_and_loudness():
    t = torch.arange(1600)
    x = torch.zeros(64, 1, 1600)
    x[:, :, 700:900] = torch.sin(t[700:900] / 3.0)  # a burst in the middle of each clip
    torch.manual_seed(0)
    shifted = diff_augment(x, "translation")
    starts = (shifted[:, 0].abs() > 0).float().argmax(1)  # where each clip's burst begins now
    assert shifted.shape == x.shape and starts.min() >= 500 and starts.max() <= 900 and starts.unique().numel() > 10
    assert torch.equal(shifted.abs().sum(-1).round(), x.abs().sum(-1).round())  # moved, not cut
    cut = diff_augment(x.abs() + 1, "cutout")
    assert ((cut == 0).float().mean(-1) - 0.25).abs().max() < 0.01  # a span of a quarter, inside each clip
    rms = diff_augment(x, "gain").pow(2).mean(-1).sqrt() / x.pow(2).mean(-1).sqrt()
    assert 0.5 <= rms.min() < 0.7 and 1.5 < rms.max() <= 2.0  # up to 6 dB either way
    with pytest.raises(
        ConfigError, match=r"\['color'\] is not one for clips; expected some of translation, cutout, gain"
    ):
        resolve_config("wavegan", sets=["model.augment=color"])


def test_ema_generator_is_the_running_average_and_samples():
    m, cfg = dcgan("model.ema=0.9", "model.ema_warmup=false")
    opts = m.configure_optimizers(cfg.train)
    g0 = [p.clone() for p in m.G.parameters()]
    m.train_step(torch.rand(8, 1, 8, 8) * 2 - 1, None, opts)
    for pe, p, p0 in zip(m.G_ema.parameters(), m.G.parameters(), g0):
        assert torch.allclose(pe, p0 + 0.1 * (p - p0), atol=1e-6)
    z = m.prior(4)
    m.eval()
    assert torch.equal(m.decode(z), m.G_ema(z)) and not torch.equal(m.decode(z), m.G(z))


def test_ema_warmup_ramps_the_decay_so_early_steps_are_not_averaged_in():
    m, cfg = dcgan("model.ema=0.999", "model.ema_warmup=true")
    opts = m.configure_optimizers(cfg.train)
    for t in range(3):  # decay min(0.999, (1 + t) / (10 + t)): 0.1, 0.18, 0.25
        before = [p.clone() for p in m.G_ema.parameters()]
        m.train_step(torch.rand(8, 1, 8, 8) * 2 - 1, None, opts)
        d = (1 + t) / (10 + t)
        for pe, p, p0 in zip(m.G_ema.parameters(), m.G.parameters(), before):
            assert torch.allclose(pe, d * p0 + (1 - d) * p, atol=1e-6)
    assert int(m.ema_updates) == 3


def test_n_critic_and_ttur():
    m, cfg = dcgan("model.n_critic=3", "model.d_lr_ratio=4")
    opts = m.configure_optimizers(cfg.train)
    assert opts["d"].param_groups[0]["lr"] == 4 * opts["g"].param_groups[0]["lr"]
    for _ in range(6):
        m.train_step(torch.rand(8, 1, 8, 8) * 2 - 1, None, opts)
    steps = lambda o: int(next(iter(o.state.values()))["step"])  # noqa: E731
    assert steps(opts["d"]) == 6 and steps(opts["g"]) == 2


@pytest.mark.parametrize("ref", ["noise", "data"])
def test_the_mode_seeking_term_also_acts_on_an_unconditional_generator(ref):
    """MSGAN's term against collapse: an unconditional G pays 1 / (|G(z1) - G(z2)| / |z1 - z2|) on top of its
    adversarial loss (the same weights and noise give the same fakes with and without it); with
    mode_seeking_ref=data the step pays the term measured against its real batch."""
    from genforge.models.dcgan import mode_seeking

    losses = {}
    for weight in (0.0, 2.0):
        torch.manual_seed(0)
        m, cfg = dcgan(f"model.mode_seeking={weight}", f"model.mode_seeking_ref={ref}", "model.dropout=0")
        opts = m.configure_optimizers(cfg.train)
        x = torch.rand(8, 1, 8, 8) * 2 - 1  # more varied than a fresh G's fakes: the data term is > 0
        torch.manual_seed(1)
        losses[weight] = float(m.train_step(x, None, opts)["loss_g"])
    torch.manual_seed(0)
    m, _ = dcgan("model.dropout=0")
    torch.manual_seed(1)
    z = torch.randn(8, m.latent_dim)
    with torch.no_grad():
        term = float(mode_seeking(m.G(z), z, x if ref == "data" else None))
    assert term > 0 and losses[2.0] - losses[0.0] == pytest.approx(2.0 * term, rel=1e-4)


def test_the_data_referenced_mode_seeking_term_stops_at_the_data_s_diversity():
    """mode_seeking_ref=data: collapsed fakes pay the most (1), fakes as varied as the real batch pay nothing,
    and louder fakes earn no more, where MSGAN's own term keeps falling as the fakes grow louder (on quiet
    clips it pays a generator for noise)."""
    from genforge.models.dcgan import mode_seeking

    g = torch.Generator().manual_seed(0)
    real = 0.05 * torch.randn(16, 1, 4000, generator=g)  # quiet "clips"
    z = torch.randn(16, 8, generator=g)
    collapsed = real[:1].expand(16, -1, -1)
    assert float(mode_seeking(collapsed, z, real)) == pytest.approx(1.0)
    as_varied, louder = real.roll(1, 0), 10 * real.roll(1, 0)
    assert float(mode_seeking(as_varied, z, real)) == pytest.approx(0, abs=1e-3)
    assert float(mode_seeking(louder, z, real)) == 0
    assert float(mode_seeking(louder, z)) < 0.2 * float(mode_seeking(as_varied, z))
    half = mode_seeking(torch.cat([real[:8], real[:8] + 0.5 * (real[8:] - real[:8])]), z, real)
    assert float(half) == pytest.approx(0.5, rel=1e-4)  # half the data's pair distance: half the penalty


def test_invalid_combinations_are_config_errors():
    with pytest.raises(ConfigError, match="simultaneous"):
        resolve_config("dcgan", "article", sets=["model.loss=hinge"])
    with pytest.raises(ConfigError, match=r"\['rotate'\] is not one for images"):
        resolve_config("dcgan", sets=["model.augment=translation,rotate"])


def test_upgraded_gan_learns_and_resumes_exactly(tmp_path, digits):
    up = [
        "model.loss=hinge",
        "model.spectral_norm=true",
        "model.ema=0.99",
        "model.ema_warmup=true",
        "model.augment=translation,cutout",
        "model.n_critic=2",
        "model.r1_gamma=0.1",
    ]
    tr = Trainer(tiny_config("dcgan", *up, "train.steps=300", "train.lr=5e-4"), tmp_path / "a", data=digits, **quiet())
    real = digits.tensor("test").float() / 127.5 - 1
    before = nn_distance(tr.model.sample(128, seed=1), real)
    tr.fit()
    assert nn_distance(tr.model.sample(128, seed=1), real) < 0.8 * before
    det = [*up, "train.deterministic=true"]
    Trainer(tiny_config("dcgan", *det, "train.steps=9"), tmp_path / "full", data=digits, **quiet()).fit()
    Trainer(tiny_config("dcgan", *det, "train.steps=4"), tmp_path / "cut", data=digits, **quiet()).fit()
    Trainer(tiny_config("dcgan", *det, "train.steps=9"), tmp_path / "cut", data=digits, resume=True, **quiet()).fit()
    a, b = genforge.load(tmp_path / "full").state_dict(), genforge.load(tmp_path / "cut").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_vae_free_bits_and_kl_warmup():
    from genforge.losses.vae import elbo

    x = torch.rand(4, 1, 8, 8)
    mu, logvar = torch.zeros(4, 3), torch.zeros(4, 3)  # KL 0 in every dimension
    loss, recon, kl = elbo(x, torch.zeros_like(x), mu, logvar, free_bits=0.5)
    assert kl == 0 and torch.allclose(loss, recon + 1.5)  # 3 dims x 0.5 nats floor
    cfg = resolve_config("vae", sets=["model.kl_warmup=4", "model.width=0.5", "model.hidden=16"])
    m = FAMILIES.get("vae")(cfg.model, (1, 8, 8))
    opts = m.configure_optimizers(cfg.train)
    seen = []
    orig = m.losses
    m.losses = lambda x, y=None, beta=None, free_bits=0.0: (seen.append(beta), orig(x, y, beta, free_bits))[1]
    for _ in range(6):
        m.train_step(torch.rand(8, 1, 8, 8) * 2 - 1, None, opts)
    assert seen == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0] and int(m.steps_done) == 6


def test_vae_learned_variance_decoder(tmp_path, digits):
    import math

    from genforge.losses.vae import reconstruction_nll
    from genforge.sample import export

    x = torch.full((1, 1, 2, 2), 0.5)
    logits = torch.cat([torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), math.log(0.1))], 1)  # mean 0.5, sigma 0.1
    expected = 4 * (math.log(0.1) + 0.5 * math.log(2 * math.pi))
    assert torch.allclose(reconstruction_nll(x, logits, "gaussian_learned", 1.0), torch.tensor([expected]), atol=1e-5)
    assert torch.allclose(reconstruction_nll(x, logits[:, :1], "gaussian", 0.1), torch.tensor([expected]), atol=1e-5)
    tr = Trainer(
        tiny_config("vae", "model.reconstruction=gaussian_learned", "model.latent_dim=16", "train.steps=150"),
        tmp_path,
        data=digits,
        **quiet(),
    )
    before, after = vae_test_loss_before_after(tr)
    assert after < before - 50  # nats per image
    m = genforge.load(tmp_path)
    assert m.sample(3).shape == (3, 1, 8, 8)
    z = m.prior(2)
    assert torch.allclose(torch.jit.load(str(export(m, "torchscript", tmp_path / "g.pt")))(z), m.decode(z), atol=1e-6)


def test_vae_residual_decoder_starts_as_the_plain_decoder_and_learns(tmp_path, digits):
    from torch import nn

    from genforge.models.vae import ResBlock

    cfg = resolve_config("vae", sets=["model.decoder_blocks=2", "model.width=0.5", "model.hidden=16"])
    m = FAMILIES.get("vae")(cfg.model, (1, 28, 28))
    blocks = [b for b in m.decoder.net if isinstance(b, ResBlock)]
    assert len(blocks) == 4  # two after each of the two upsampling layers
    h = torch.randn(3, m.decoder.c0, 7, 7)
    plain = nn.Sequential(*[b for b in m.decoder.net if not isinstance(b, ResBlock)])
    assert torch.equal(m.decoder.net(h), plain(h))  # new blocks are the identity
    tr = Trainer(tiny_config("vae", "model.decoder_blocks=1", "train.steps=150"), tmp_path, data=digits, **quiet())
    before, after = vae_test_loss_before_after(tr)
    assert after < before - 10  # nats per image


def test_vae_gmm_prior_draws_codes_where_the_training_codes_are(tmp_path, digits):
    from genforge.modalities.image.dataset import to_float

    tr = Trainer(
        tiny_config("vae", "model.prior=gmm", "model.prior_components=5", "train.steps=150"),
        tmp_path,
        data=digits,
        **quiet(),
    )
    tr.fit()
    m = genforge.load(tmp_path)
    assert bool(m.gmm.fitted) and torch.equal(
        m.prior(64, torch.Generator().manual_seed(1)), tr.model.prior(64, torch.Generator().manual_seed(1))
    )  # fitted when training ended, saved, seeded
    with torch.no_grad():
        codes, logvar = m.encode(to_float(torch.from_numpy(digits.train).permute(0, 3, 1, 2)))
    normal = torch.randn(500, m.latent_dim, generator=torch.Generator().manual_seed(2))
    gap = lambda z: torch.cdist(z, codes).min(1).values.median()  # noqa: E731  distance to the nearest code
    drawn = m.prior(2000, torch.Generator().manual_seed(2))
    assert gap(drawn[:500]) < 0.7 * gap(normal), (gap(drawn[:500]), gap(normal))
    # the mixture is fitted to the aggregate posterior (posterior draws), not to the narrower posterior means:
    # its spread is the means' spread plus the posteriors' own
    means_spread, own = codes.var(0).sum(), logvar.exp().mean(0).sum()
    assert drawn.var(0).sum() > means_spread + 0.5 * own, (drawn.var(0).sum(), means_spread, own)
    assert m.sample(4).shape == (4, 1, 8, 8)
    # the last preview grid shows what the run samples: the mixture's codes, not N(0, I)'s
    last = sorted((tmp_path / "samples").glob("step_*.png"))[-1]
    shown = last.read_bytes()
    tr.model.gmm.fitted.fill_(False)
    tr.save_samples()
    assert last.read_bytes() != shown
    tr.model.gmm.fitted.fill_(True)
    tr.save_samples()
    assert last.read_bytes() == shown


def test_a_mixture_fitted_to_few_codes_has_few_components_and_does_not_copy_them():
    """Small data: one component per D + 1 codes at most, so that no singular covariance turns the prior into
    copies of a few training codes; fewer than D + 1 codes keep N(0, I)."""
    from genforge.models.latent_prior import GaussianMixturePrior

    codes = torch.randn(30, 8, generator=torch.Generator().manual_seed(0))
    prior = GaussianMixturePrior(20, 8)
    prior.fit(codes)
    assert int((prior.weights > 0).sum()) == 3  # 30 // 9
    nearest = torch.cdist(prior.sample(500, torch.Generator().manual_seed(1)), codes).min(1).values
    spacing = torch.cdist(codes, codes).topk(2, largest=False).values[:, 1]  # each code to its nearest other
    assert nearest.median() > 0.5 * spacing.median(), (nearest.median(), spacing.median())
    few = GaussianMixturePrior(20, 8)
    few.fit(codes[:8])
    assert torch.equal(few.means, torch.zeros_like(few.means)) and torch.equal(few.chol[0, 0], torch.eye(8))
