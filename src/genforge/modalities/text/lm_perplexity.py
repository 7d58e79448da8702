"""Forward and reverse perplexity (Zhao et al. 2018; Cifka et al. 2018) with language models
trained here, on the user's data: no download, any language.

- forward_ppl: perplexity of the samples under an LM trained on the training split
  (fluency as the data sees it; cached by data fingerprint like the extractors).
  Floor: the same LM on as many held-out sentences.
- reverse_ppl: perplexity of the held-out sentences under an LM trained on the samples
  (do the samples cover the data?). Floor: an LM trained on as many training sentences.

Both LMs are genforge's `text-lm` at its default size, trained for the same steps.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Optional

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ...evaluate.features import cache_dir
from ...io import atomic_write
from ...run import build_model, resolve_config

LM_VERSION = 1


def default_lm_steps(n_items: int) -> int:
    """About two passes over n items in batches of 64 (at least 150 steps, at most 1000)."""
    return int(min(1000, max(150, 2 * math.ceil(n_items / 64))))


def train_lm(data, items: torch.Tensor, steps: int, seed: int = 0):
    """A text-lm trained on stored token ids `items` for `steps` steps of 64 random sentences."""
    cfg = resolve_config("text-lm")
    torch.manual_seed(seed)
    model = build_model(cfg, data.shape)
    opts = model.configure_optimizers(cfg.train)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        model.train_step(items[torch.randint(0, len(items), (min(64, len(items)),), generator=gen)], None, opts)
    return model.eval()


@torch.no_grad()
def perplexity(model, items: torch.Tensor) -> float:
    """exp(total NLL / total predicted tokens) of stored token ids under a language model."""
    nll = sum(-model.log_likelihood_terms(chunk, None).sum().item() for chunk in items.split(256))
    return math.exp(nll / int((items != 0).sum()))


def data_lm(data, steps: int, seed: int = 0, log=None):
    """The LM of the training split, trained once per data fingerprint and recipe, then cached."""
    recipe = {"v": LM_VERSION, "steps": steps, "seed": seed, "data": data.fingerprint}
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"lm-{key}.safetensors"
    if path.is_file():
        model = build_model(resolve_config("text-lm"), data.shape)
        try:
            model.load_state_dict(st_load(path.read_bytes()))
            return model.eval()
        except Exception as e:  # a damaged cache is rebuilt, never fatal
            if log:
                log(f"cached language model {path} is unreadable ({e}); training it again")
    if log:
        log(f"training the forward-perplexity language model on {data.name} ({steps} steps; cached afterwards)")
    model = train_lm(data, data.tensor("train"), steps, seed)
    atomic_write(path, st_save({k: v.contiguous() for k, v in model.state_dict().items()}))
    return model


def lm_perplexities(
    data, samples: torch.Tensor, steps: Optional[int] = None, seed: int = 0, floors: bool = True, log=None
) -> dict:
    """{"forward_ppl", "reverse_ppl"} of stored samples, each with its floor (unless `floors` is False)."""
    n = len(samples)
    test = data.tensor("test")
    fwd = data_lm(data, steps or default_lm_steps(len(data.train)), seed, log)
    steps = steps or default_lm_steps(n)
    out = {
        "forward_ppl": {"value": perplexity(fwd, samples), "note": "samples under an LM of the training split"},
        "reverse_ppl": {
            "value": perplexity(train_lm(data, samples, steps, seed), test),
            "note": f"held-out text under an LM trained on the {n} samples ({steps} steps)",
        },
    }
    if floors:  # as many held-out sentences under the data's LM; the held-out text under an LM of training text
        held = test[torch.randperm(len(test), generator=torch.Generator().manual_seed(seed + 1))[:n]]
        train = data.tensor("train")
        real = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(seed + 2))[:n]]
        out["forward_ppl"]["floor"] = perplexity(fwd, held)
        out["reverse_ppl"]["floor"] = perplexity(train_lm(data, real, steps, seed), test)
    return out
