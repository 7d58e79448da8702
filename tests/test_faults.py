"""Kill campaigns: `genforge train` SIGKILLed at random moments resumes to the same weights, bit for bit;
a killed `genforge evaluate` leaves nothing unreadable and, run again, gives the same figures; a killed
`genforge tune` loses no trial and counts none twice."""

import pytest

from genforge.faults import campaign, evaluate_campaign, tune_campaign

# Every test here starts and kills processes: a campaign, run by `make reliability` and `make test-all` (about
# 3 minutes for the quick ones on 2 cores). `make test` keeps exact resumption through the family suite and the
# torchrun tests, and killed tuning trials through tests/test_tune_workers.py.
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_killed_training_resumes_bit_exact(tmp_path):
    res = campaign(tmp_path, kills=3, steps=150, seed=1, log=lambda s: None)
    assert res["problems"] == [] and res["bit_exact"] and res["kills"] == 3


def test_killed_evaluation_leaves_readable_files_and_the_same_figures(tmp_path):
    res = evaluate_campaign(tmp_path, kills=1, seed=0, log=lambda s: None)
    assert res["problems"] == [] and res["kills"] == 1


def test_killed_study_keeps_its_trial_budget_and_retries_killed_trials(tmp_path):
    res = tune_campaign(tmp_path, kills=1, seed=2, log=lambda s: None)
    assert res["problems"] == [] and res["kills"] == 1


def test_twenty_kills_leave_no_corrupt_file_and_no_lost_step(tmp_path):
    res = campaign(tmp_path, kills=20, steps=300, seed=0, log=lambda s: None)
    assert res["problems"] == [] and res["bit_exact"] and res["resumes"] >= 10
    res = evaluate_campaign(tmp_path / "evaluate", kills=20, seed=0, log=lambda s: None)
    assert res["problems"] == []
    res = tune_campaign(tmp_path / "tune", kills=20, seed=0, log=lambda s: None)
    assert res["problems"] == [] and res["retried_trials"] >= 5
