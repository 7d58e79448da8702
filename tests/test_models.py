import pytest
import torch

from genforge.losses import GAN_LOSSES
from genforge.losses.vae import elbo, kl_per_dim
from genforge.models import FAMILIES
from genforge.run import resolve_config


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("family", ["dcgan", "vae"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (1, 64, 64), (3, 128, 128), (1, 7, 7)])
def test_shapes_for_every_resolution_and_channel_count(family, shape):
    fam = FAMILIES.get(family)
    m = fam(fam.Config(width=0.25), shape)
    x = m.decode(m.prior(2))
    assert x.shape == (2, *shape)
    assert x.min() >= -1 and x.max() <= 1
    if family == "dcgan":
        assert m.D(x).shape == (2,)
    else:
        mu, logvar = m.encode(x)
        assert mu.shape == logvar.shape == (2, m.latent_dim)


def test_article_dcgan_has_the_tutorials_parameter_count():
    cfg = resolve_config("dcgan", "article")
    m = FAMILIES.get("dcgan")(cfg.model, (1, 28, 28))
    # TF tutorial summary: generator 2,305,472 trainable (+ 25,472 BN moving stats), discriminator 212,865.
    assert n_params(m.G) == 2_305_472
    assert n_params(m.D) == 212_865


def test_article_vae_has_the_keras_examples_parameter_count():
    cfg = resolve_config("vae", "article")
    m = FAMILIES.get("vae")(cfg.model, (1, 28, 28))
    assert n_params(m.encoder) == 69_076 and n_params(m.decoder) == 65_089


def test_ns_gan_losses_match_their_formula():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    loss = GAN_LOSSES["ns"]
    s = torch.sigmoid
    assert torch.allclose(loss.d(real, fake), (-torch.log(s(real))).mean() + (-torch.log(1 - s(fake))).mean())
    assert torch.allclose(loss.g(fake), (-torch.log(s(fake))).mean())


def test_kl_is_analytic_and_zero_at_prior():
    mu, logvar = torch.zeros(3, 4), torch.zeros(3, 4)
    assert kl_per_dim(mu, logvar).abs().max() == 0
    # Monte-Carlo check of KL(N(1, 0.25) || N(0, 1)) = 0.5 * (1 + 0.25 - 1 - ln 0.25)
    kl = kl_per_dim(torch.tensor([[1.0]]), torch.log(torch.tensor([[0.25]])))
    assert torch.allclose(kl, torch.tensor([[0.5 * (1 + 0.25 - 1 - torch.log(torch.tensor(0.25)))]]))
    x = torch.rand(2, 1, 4, 4)
    loss, recon, k = elbo(x, torch.zeros(2, 1, 4, 4), mu[:2], logvar[:2])
    assert torch.allclose(recon, torch.tensor(16 * torch.log(torch.tensor(2.0)).item()))  # BCE(0.5) per pixel = ln 2
    assert loss == recon + k
