"""Generated inputs (damaged, hostile or merely odd files, configs and run directories) end in a load, a
named skip or a one-paragraph error naming the file, key or value; never a traceback or a hang."""

import pytest

from genforge.fuzz.campaign import campaign, targets

pytestmark = pytest.mark.integration  # every test here starts processes


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("target", [t for t, draw in targets().items() if draw is not None])
def test_generated_inputs_end_in_a_load_or_a_clear_error(target):
    res = campaign(100, (target,), seed=1, log=lambda s: None)[target]
    assert res["cases"] == 100 and res["failures"] == 0, res["first_failures"]
    assert res.get("refused", 0) and res.get("loaded", 0) + res.get("skipped some", 0)  # both kinds were made


def test_generated_requests_never_get_a_server_error():
    """Schemathesis on every operation of the server's OpenAPI schema, valid and invalid inputs."""
    res = campaign(200, ("server",), seed=1, log=lambda s: None)["server"]
    assert res["failures"] == 0, res["first_failures"]
    assert res["cases"] >= 150 and res.get("2xx", 0) and res.get("4xx", 0)


@pytest.mark.slow
def test_a_thousand_cases_per_loader_family():
    res = campaign(1000, seed=0, log=lambda s: None)
    assert all(r["cases"] == 1000 and r["failures"] == 0 for r in res.values()), res
