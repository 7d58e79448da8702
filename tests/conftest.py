import os

import pytest
import torch

from genforge.config import DataConfig
from genforge.data import load_data
from genforge.run import resolve_config

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", min(2, os.cpu_count() or 1))))
TINY = {"dcgan": ["model.width=0.25"], "vae": ["model.width=0.5", "model.hidden=32"]}
QUIET = ["train.log_every=10", "train.sample_every=1000000", "train.checkpoint_every=1000000"]


@pytest.fixture(scope="session")
def digits():
    return load_data(DataConfig(source="digits"))


def tiny_config(family: str, *sets: str, preset: str | None = None):
    """A small, fast config of `family` on digits."""
    return resolve_config(family, preset, sets=[*TINY[family], *QUIET, "train.batch_size=32", *sets])
