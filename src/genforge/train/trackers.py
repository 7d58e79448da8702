"""Experiment trackers as optional sinks beside metrics.jsonl, which stays the source of truth.

    --set 'train.log_to=[tensorboard]'      RUN/tensorboard/ (tensorboard --logdir RUN/tensorboard)
    --set 'train.log_to=[mlflow]'           RUN/mlruns/, a local MLflow file store (mlflow ui --backend-store-uri ...)

Each is an optional extra (`pip install 'genforge[tensorboard]'`, `'genforge[mlflow]'`),
imported only when asked for. They receive every metrics line's numbers and every
training preview: images as images, text as text.
"""

from __future__ import annotations

import importlib
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ConfigError


def _need(module: str, extra: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"train.log_to={extra} needs the optional extra: pip install 'genforge[{extra}]'") from None


class TensorBoard:
    def __init__(self, run: Path, name: str):
        _need("tensorboard", "tensorboard")
        # deferred: the optional `tensorboard` extra
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run / "tensorboard"))

    def scalars(self, step: int, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.writer.add_scalar(k, v, step)

    def preview(self, step: int, blob: bytes, suffix: str) -> None:
        if suffix == ".png":
            self.writer.add_image(
                "samples", np.asarray(Image.open(io.BytesIO(blob)).convert("RGB")), step, dataformats="HWC"
            )
        else:
            self.writer.add_text("samples", blob.decode("utf-8"), step)

    def close(self) -> None:
        self.writer.close()


class MLflow:
    def __init__(self, run: Path, name: str):
        # MLflow 3 keeps its local file store in maintenance mode behind this switch; a file store needs no
        # database and opens with `mlflow ui --backend-store-uri RUN/mlruns`
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        mlflow = _need("mlflow", "mlflow")
        self.client = mlflow.MlflowClient(tracking_uri=(run / "mlruns").resolve().as_uri())
        exp = self.client.get_experiment_by_name("genforge")
        exp_id = exp.experiment_id if exp else self.client.create_experiment("genforge")
        found = self.client.search_runs([exp_id], filter_string=f"tags.mlflow.runName = '{name}'")
        self.run_id = found[0].info.run_id if found else self.client.create_run(exp_id, run_name=name).info.run_id

    def scalars(self, step: int, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.client.log_metric(self.run_id, k.replace("/", "_"), v, step=step)

    def preview(self, step: int, blob: bytes, suffix: str) -> None:
        if suffix == ".png":
            self.client.log_image(
                self.run_id,
                np.asarray(Image.open(io.BytesIO(blob)).convert("RGB")),
                artifact_file=f"samples/step_{step:07d}.png",
            )
        else:
            self.client.log_text(self.run_id, blob.decode("utf-8"), f"samples/step_{step:07d}.txt")

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


class Trackers:
    """The sinks a run asked for; a no-op when it asked for none."""

    def __init__(self, names: list[str], run: Path):
        kinds = {"tensorboard": TensorBoard, "mlflow": MLflow}
        self.sinks = [kinds[n](run, run.resolve().name) for n in dict.fromkeys(names)]

    def scalars(self, step: int, record: dict) -> None:
        values = {k: float(v) for k, v in record.items() if isinstance(v, (int, float)) and k not in ("step",)}
        for s in self.sinks:
            s.scalars(step, values)

    def preview(self, step: int, blob: bytes, suffix: str) -> None:
        for s in self.sinks:
            s.preview(step, blob, suffix)

    def close(self) -> None:
        for s in self.sinks:
            s.close()
