import pytest

from genforge.config import parse_set
from genforge.errors import ConfigError
from genforge.run import resolve_config


def test_presets_apply_and_sets_override():
    cfg = resolve_config("dcgan", "article", sets=["train.batch_size=32"])
    assert cfg.train.lr == 1e-4 and cfg.model.leaky_slope == 0.3 and cfg.model.update == "simultaneous"
    assert cfg.train.batch_size == 32
    assert resolve_config("vae", "article").model.latent_dim == 2


def test_unknown_key_names_key_and_nearest():
    with pytest.raises(ConfigError, match=r"'train.lrr'.*did you mean 'train.lr'"):
        resolve_config("dcgan", sets=["train.lrr=1"])
    with pytest.raises(ConfigError, match=r"'model.widht'.*'model.width'"):
        resolve_config("dcgan", sets=["model.widht=2"])


def test_null_or_numeric_yaml_keys_are_named_as_unknown(tmp_path):
    (tmp_path / "c.yaml").write_text("model:\n  ~: 1\n  3: 2\n")  # YAML keys that are not strings
    with pytest.raises(ConfigError, match="unknown config key 'model.None'"):
        resolve_config("wavegan", None, tmp_path / "c.yaml")


def test_bad_value_names_key_and_value():
    with pytest.raises(ConfigError, match=r"train.lr.*-1"):
        resolve_config("dcgan", sets=["train.lr=-1"])


def test_unknown_family_and_preset():
    with pytest.raises(ConfigError, match="did you mean 'dcgan'"):
        resolve_config("dcgn")
    with pytest.raises(ConfigError, match="unknown preset 'artcle'"):
        resolve_config("vae", "artcle")


def test_yaml_file_layers_between_preset_and_sets(tmp_path):
    f = tmp_path / "x.yaml"
    f.write_text("preset: article\ntrain:\n  lr: 0.003\n  steps: 7\nmodel:\n  latent_dim: 4\n")
    cfg = resolve_config("vae", config_file=f, sets=["train.steps=9"])
    assert cfg.preset == "article" and cfg.train.lr == 0.003 and cfg.model.latent_dim == 4 and cfg.train.steps == 9
    f.write_text("train: [1, 2")
    with pytest.raises(ConfigError, match=str(f)):
        resolve_config("vae", config_file=f)


def test_parse_set_types():
    assert parse_set(["a.b=1e-3", "a.c=true", "d.e=[1, 2]", "d.f=text"]) == {
        "a": {"b": 1e-3, "c": True},
        "d": {"e": [1, 2], "f": "text"},
    }
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_set(["train.lr"])


def test_default_budget_is_finite():
    assert resolve_config("dcgan").train.steps == 2000
    cfg = resolve_config("dcgan", overrides={"train": {"minutes": 1}})
    assert cfg.train.steps is None and cfg.train.minutes == 1


def test_a_time_budget_picks_the_preset_measured_best_for_it(monkeypatch, tmp_path):
    from genforge.models.dcgan import DCGAN

    monkeypatch.setattr(DCGAN, "budget_presets", ((30.0, "lean"),))
    said = []

    def preset(minutes, **kw):
        return resolve_config("dcgan", overrides={"train": {"minutes": minutes}}, log=said.append, **kw).preset

    assert [preset(5), preset(30), preset(60)] == ["default", "lean", "lean"]
    assert said == [
        f"preset 'lean': the measured best for a {m}-minute budget (name --preset to choose)" for m in (30, 60)
    ]
    assert preset(60, preset="default") == "default"  # a preset named on the command line wins
    (tmp_path / "c.yaml").write_text("preset: article\n")
    assert preset(60, config_file=tmp_path / "c.yaml") == "article"  # and one named in the config file
    assert resolve_config("dcgan", sets=["train.minutes=45"]).preset == "lean"
    assert resolve_config("dcgan", overrides={"train": {"steps": 100}}).preset == "default"  # no time budget


def test_every_family_s_budget_presets_are_its_own():
    from genforge.models import FAMILIES

    for name in FAMILIES.names():
        fam = FAMILIES.get(name)
        starts = [start for start, _ in fam.budget_presets]
        assert starts == sorted(starts) and all(p in fam.presets for _, p in fam.budget_presets), name
    assert resolve_config("dcgan", overrides={"train": {"minutes": 60}}).preset == "wide"
    assert resolve_config("wavegan", overrides={"train": {"minutes": 60}}).preset == "default"
