"""Export the generator (GAN) or decoder (VAE) as ONNX or TorchScript.

The family says what its exported module takes and returns (`export_example`).
Image families: latents z [N, latent_dim] (float32) -> images [N, C, H, W] in
[-1, 1]; a conditional model also takes class labels y [N] (int64). Text
families: one decoder step (token [N], h, cond) -> (logits [N, V], h'), with the
run's tokenizer.model copied beside the export. The batch dimension is dynamic.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch

from ..errors import ConfigError, RunError
from ..modalities import modality_of
from ..models import Family

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}


def export(model: Family, fmt: str, out: str | Path) -> Path:
    """Write the exportable part of `model` to `out` in format `fmt`."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format '{fmt}'; expected one of: {', '.join(FORMATS)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    net = model.exportable().cpu().eval()
    args, names, outputs, batch_dims = model.export_example()
    with torch.no_grad():
        if fmt == "torchscript":
            traced = torch.jit.trace(net, args)
            traced.save(str(out))
        else:
            try:
                # deferred: the optional `export` extra
                import onnxscript  # noqa: F401  (the exporter needs it)
            except ImportError:
                raise RunError("ONNX export needs the export extra: pip install 'genforge[export]'") from None
            batch = torch.export.Dim("batch", min=1, max=65536)
            # The exporter warns about optional torchvision ops and its own deprecations: not ours to fix.
            logging.getLogger("torch.onnx").setLevel(logging.ERROR)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                program = torch.onnx.export(
                    net,
                    args,
                    dynamo=True,
                    input_names=names,
                    output_names=outputs,
                    dynamic_shapes=tuple({d: batch} for d in batch_dims),
                    external_data=False,
                    verbose=False,
                )
            program.save(str(out))
    codec = model.codec
    if codec is not None:  # e.g. a text model's tokenizer, without which its ids mean nothing
        modality_of(model).save_codec(codec, out.parent)
    return out
