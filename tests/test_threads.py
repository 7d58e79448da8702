import torch

from genforge.train import Trainer
from genforge.train.threads import ThreadTuner, thread_candidates

from .conftest import tiny_config
from .test_train import quiet


class FakeMachine:
    """A clock whose steps take `seconds[threads]`: the load on the machine, as the tuner sees it."""

    def __init__(self, seconds: dict[int, float]):
        self.seconds, self.now = seconds, 0.0

    def clock(self) -> float:
        return self.now

    def step(self) -> None:
        self.now += self.seconds[torch.get_num_threads()]


def run(tuner: ThreadTuner, machine: FakeMachine, steps: int) -> None:
    for _ in range(steps):
        tuner.tick()
        machine.step()


def test_tuner_keeps_the_fastest_count_and_follows_the_load():
    before = torch.get_num_threads()
    try:
        quiet_cpu = FakeMachine({2: 0.01, 1: 0.018})  # two threads win on a quiet machine
        tuner = ThreadTuner([2, 1], window_s=0.1, period=5.0, clock=quiet_cpu.clock)
        run(tuner, quiet_cpu, 60)
        assert tuner.current == 2 and tuner.choices[0]["threads"] == 2
        quiet_cpu.seconds = {2: 0.05, 1: 0.02}  # another process takes a core: one thread wins
        run(tuner, quiet_cpu, 400)
        assert tuner.current == 1 and tuner.choices[-1]["threads"] == 1
        assert tuner.choices[-1]["steps_per_s"][1] > 2 * tuner.choices[-1]["steps_per_s"][2]
    finally:
        torch.set_num_threads(before)


def test_candidates_and_trainer_wiring(tmp_path, digits):
    assert thread_candidates(8) == [8, 4, 1] and thread_candidates(2) == [2, 1] and thread_candidates(1) == [1]
    tr = Trainer(tiny_config("vae", "train.steps=3"), tmp_path / "a", data=digits, **quiet())
    assert isinstance(tr.threads, ThreadTuner)  # auto is the default on the CPU
    fixed = Trainer(
        tiny_config("vae", "train.steps=3", "train.deterministic=true"), tmp_path / "b", data=digits, **quiet()
    )
    assert fixed.threads is None  # exact results must not depend on a measured count
    before = torch.get_num_threads()
    try:
        assert Trainer(tiny_config("vae", "train.threads=1"), tmp_path / "c", data=digits, **quiet()).threads is None
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_side_work_does_not_count_as_step_time():
    before = torch.get_num_threads()
    try:
        cpu = FakeMachine({2: 0.01, 1: 0.018})
        tuner = ThreadTuner([2, 1], window_s=0.02, period=100.0, clock=cpu.clock)
        for i in range(200):
            tuner.tick()
            cpu.step()
            if i % 5 == 4 and torch.get_num_threads() == 2:  # a slow evaluation while two threads are timed
                cpu.now += 1.0
                tuner.restart_window()
        assert tuner.choices and tuner.choices[0]["threads"] == 2
    finally:
        torch.set_num_threads(before)
