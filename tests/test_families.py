"""One suite for every registered family (as diffusers tests its models): registering a family is
what gets it tested. Each runs its tiny config on real data of its modality."""

import json

import numpy as np
import pytest
import torch

import genforge
from genforge.config import validate
from genforge.modalities import MODALITIES, manifests, modality_of
from genforge.models import FAMILIES
from genforge.models.abilities import MIXINS
from genforge.models.base import ABILITIES
from genforge.run import build_model, resolve_config
from genforge.sample import export
from genforge.train import Trainer
from genforge.tune.space import load_space, suggest

from .conftest import tiny_config

ALL = FAMILIES.names()


@pytest.fixture
def data_for(request):
    """(data set, source) of real data for a family's modality (fixtures asked for only when needed)."""
    get = request.getfixturevalue
    sets = {
        "image": lambda: (get("digits"), None),
        "text": lambda: (get("text_data"), str(get("text_folder"))),
        "audio": lambda: (get("audio_data"), "spoken-digits"),
        "video": lambda: (get("video_data"), "moving-digits"),
        "music": lambda: (get("music_data"), str(get("music_folder"))),
        "shapes": lambda: (get("shapes_data"), "primitive-shapes"),
        "dialog": lambda: (get("dialog_data"), "conversations"),
    }
    sets["translate"] = lambda: (get("ones_sevens"), "ones2sevens")  # two domains
    pick = lambda fam: "translate" if "translate" in fam.abilities else fam.modality  # noqa: E731
    return lambda family: sets.get(pick(FAMILIES.get(family)), lambda: default_data(FAMILIES.get(family)))()


def default_data(family) -> tuple:
    """A modality without a fixture of its own above: the first 256 items of its default data set."""
    mod, source = modality_of(family), manifests()[family.modality].default_data
    return mod.load(validate(mod.DataConfig, {"source": source, "limit": 256})), source


def quiet():
    return {"progress": False, "log": lambda s: None}


def test_every_family_is_registered_with_a_known_modality():
    assert {"dcgan", "vae", "text-vae", "text-lm", "wavegan", "specgan", "specvae", "videogan", "video-vae"} <= set(ALL)
    for name in ALL:
        fam = FAMILIES.get(name)
        assert fam.modality in MODALITIES.names() and fam.abilities <= ABILITIES, name
        assert fam.default_preset in fam.presets and fam.tiny, name


def test_a_family_declares_an_ability_exactly_when_it_has_its_methods():
    for name in ALL:
        fam = FAMILIES.get(name)
        for mixin in MIXINS:
            assert (mixin.ability in fam.abilities) == issubclass(fam, mixin), (name, mixin.ability)


@pytest.mark.parametrize("family", ALL)
def test_default_search_space_names_real_config_keys(family):
    class Fixed:  # a trial that takes each parameter's first choice or its low end
        def suggest_float(self, key, low, high, log=False):
            return low

        suggest_int = suggest_float

        def suggest_categorical(self, key, choices):
            return choices[0]

    sets = suggest(Fixed(), load_space(family))
    cfg = resolve_config(family, sets=sets)  # an unknown key or a bad value would raise
    assert cfg.family == family and len(sets) >= 3


@pytest.mark.integration
@pytest.mark.parametrize("family", ALL)
def test_trains_saves_loads_and_samples_the_same(family, data_for, tmp_path):
    data, source = data_for(family)
    Trainer(tiny_config(family, "train.steps=30", source=source), tmp_path, data=data, **quiet()).fit()
    model = genforge.load(tmp_path)
    a = model.sample(6, seed=3)
    assert torch.equal(a, genforge.load(tmp_path).sample(6, seed=3))  # weights and codec round-trip
    assert not torch.equal(a, model.sample(6, seed=4))
    recs = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(v) for r in recs for k, v in r.items() if k.startswith("loss"))
    # the training previews are the modality's kind of file
    assert list((tmp_path / "samples").glob(f"step_*{modality_of(model).preview_suffix}"))


@pytest.mark.integration
@pytest.mark.parametrize("family", [f for f in ALL if "likelihood" in FAMILIES.get(f).abilities])
def test_likelihood_families_learn_real_data(family, data_for, tmp_path):
    data, source = data_for(family)
    tr = Trainer(tiny_config(family, "train.steps=150", source=source), tmp_path, data=data, **quiet())
    test = data.tensor("test")[:200]
    before = tr.model.extra_figures(test, None, k=2)["nll_iw"]["value"]
    tr.fit()
    after = tr.model.extra_figures(test, None, k=2)["nll_iw"]["value"]
    assert after < 0.9 * before, (before, after)  # held-out NLL falls by at least 10%


@pytest.mark.integration
@pytest.mark.parametrize("family", ALL)
def test_resumed_run_continues_exactly(family, data_for, tmp_path):
    data, source = data_for(family)
    # the cut run stops early by a smaller budget; a decaying lr follows the budget, so it is held constant here
    sets = ["train.deterministic=true", "train.lr_decay=none", "train.steps=12"]
    Trainer(tiny_config(family, *sets, source=source), tmp_path / "full", data=data, **quiet()).fit()
    cut = tiny_config(family, *sets[:2], "train.steps=5", source=source)
    Trainer(cut, tmp_path / "cut", data=data, **quiet()).fit()
    Trainer(tiny_config(family, *sets, source=source), tmp_path / "cut", data=data, resume=True, **quiet()).fit()
    a, b = genforge.load(tmp_path / "full").state_dict(), genforge.load(tmp_path / "cut").state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), family


@pytest.mark.parametrize("family", ALL)
def test_torchscript_export_computes_what_pytorch_computes(family, data_for, tmp_path):
    data, source = data_for(family)
    Trainer(tiny_config(family, "train.steps=3", source=source), tmp_path, data=data, **quiet()).fit()
    model = genforge.load(tmp_path)
    path = export(model, "torchscript", tmp_path / "g.pt")
    args, _, _, _ = model.export_example()
    with torch.no_grad():
        want = model.exportable()(*args)
        got = torch.jit.load(str(path))(*args)
    want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
    assert all(torch.allclose(w, g, atol=1e-5) for w, g in zip(want, got))


@pytest.mark.parametrize("family", ALL)
def test_undistribute_drops_every_wrapper_distribute_made(family, data_for):
    """A DDP wrapper that outlives its process group can block the process at exit: `undistribute` (called
    before the group is destroyed) drops every wrapper, also those a family keeps on an inner family."""
    data, source = data_for(family)
    model = build_model(tiny_config(family, source=source), data.shape, data.n_classes)
    model.distribute(lambda m: torch.nn.Sequential(m))  # a stand-in for DistributedDataParallel
    assert any("_wrapped" in m.__dict__ for m in model.modules())
    model.undistribute()
    assert not any("_wrapped" in m.__dict__ for m in model.modules())
