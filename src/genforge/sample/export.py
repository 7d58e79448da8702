"""Export the generator (GAN) or decoder (VAE) as ONNX or TorchScript.

The exported graph maps latents z [N, latent_dim] (float32) to images
[N, C, H, W] in [-1, 1]; a conditional model's graph also takes class labels
y [N] (int64). The batch dimension is dynamic.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch

from ..errors import ConfigError, RunError
from ..models import Family

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}


def export(model: Family, fmt: str, out: str | Path) -> Path:
    """Write the exportable part of `model` to `out` in format `fmt`."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format '{fmt}'; expected one of: {', '.join(FORMATS)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    net = model.exportable().cpu().eval()
    z = torch.randn(2, model.latent_dim)
    args = (z, torch.arange(2) % model.n_classes) if model.conditional else (z,)
    names = ["z", "y"][: len(args)]
    with torch.no_grad():
        if fmt == "torchscript":
            traced = torch.jit.trace(net, args)
            traced.save(str(out))
        else:
            try:
                import onnxscript  # noqa: F401  (the exporter needs it)
            except ImportError:
                raise RunError("ONNX export needs the export extra: pip install 'genforge[export]'") from None
            batch = torch.export.Dim("batch", min=1, max=65536)
            # The exporter warns about optional torchvision ops and its own deprecations: not ours to fix.
            logging.getLogger("torch.onnx").setLevel(logging.ERROR)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                program = torch.onnx.export(net, args, dynamo=True, input_names=names, output_names=["images"],
                                            dynamic_shapes={n: {0: batch} for n in names}, external_data=False,
                                            verbose=False)
            program.save(str(out))
    return out
