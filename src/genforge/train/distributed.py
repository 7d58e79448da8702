"""Training on several processes: torchrun starts them, torch.distributed connects them (gloo on CPUs,
NCCL on GPUs), DistributedDataParallel averages the gradients of each family's `ddp_units`.

    torchrun --standalone --nproc-per-node 2 -m genforge train --model dcgan --data fashion-mnist --out runs/ddp

`train.batch_size` is the global batch: each of the W processes takes its own B / W items of every step's
batch from the same epoch-seeded permutation, so one config means the same training at any world size.
Rank 0 writes every file; every rank reads the checkpoint to resume.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from ..errors import ConfigError, RunError


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.size > 1


def world() -> World:
    """The world torchrun describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK)."""
    env = os.environ
    return World(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))


def is_main_process() -> bool:
    """Rank 0 (or no torchrun) writes files; other ranks only compute."""
    return world().rank == 0


def join(device: torch.device) -> World:
    """Connect to the other training processes (once per process) and return this one's place."""
    w = world()
    if w.enabled and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return w


def local_device(device: torch.device, w: World) -> torch.device:
    """One GPU per process on a node: cuda -> cuda:LOCAL_RANK."""
    if device.type == "cuda" and w.enabled:
        torch.cuda.set_device(w.local_rank)
        return torch.device("cuda", w.local_rank)
    return device


def local_batch(global_batch: int, w: World) -> int:
    """This rank's share of the global batch; one that does not divide is an error."""
    if global_batch % w.size:
        raise ConfigError(
            f"train.batch_size={global_batch} is the global batch and must divide among {w.size} processes; "
            f"use a multiple of {w.size}"
        )
    return global_batch // w.size


def wrap(model, device: torch.device, sync_bn: bool) -> None:
    """Give the family DistributedDataParallel wrappers of its `ddp_units` (BatchNorm layers synchronised
    across processes first, when asked)."""
    if sync_bn and device.type != "cuda":
        raise ConfigError(
            "train.sync_bn=true needs GPUs: PyTorch's SyncBatchNorm runs on CUDA only; on CPUs each process "
            "keeps its own batch statistics (leave train.sync_bn=false)"
        )
    if sync_bn:  # converted in place below the root; a unit that is itself a BatchNorm is replaced
        convert = torch.nn.SyncBatchNorm.convert_sync_batchnorm
        for name in model.ddp_units:
            if name:
                setattr(model, name, convert(getattr(model, name)))
            else:
                convert(model)
    ids = [device.index] if device.type == "cuda" else None
    model.distribute(lambda m: DDP(m, device_ids=ids, broadcast_buffers=True))


def mean_across(values: dict[str, torch.Tensor], w: World) -> dict[str, torch.Tensor]:
    """The mean of each value over the processes (loss logs describe the global batch)."""
    if not w.enabled or not values:
        return values
    keys = sorted(values)
    stacked = torch.stack([values[k].float() for k in keys])
    dist.all_reduce(stacked)
    return {k: v / w.size for k, v in zip(keys, stacked)}


def any_rank(flag: bool, w: World, device: torch.device) -> bool:
    """Whether `flag` holds on any process (a time budget spent on one stops all at the same step)."""
    if not w.enabled:
        return flag
    t = torch.tensor([float(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def gather_rng(state: torch.Tensor, w: World, device: torch.device) -> list[torch.Tensor]:
    """Every rank's CPU random state (rank order), for a checkpoint that resumes each rank's noise."""
    if not w.enabled:
        return [state]
    mine = state.to(device)  # NCCL gathers device tensors
    out = [torch.empty_like(mine) for _ in range(w.size)]
    dist.all_gather(out, mine)
    return [o.cpu() for o in out]


def ranks_agree(model, w: World) -> bool:
    """Whether every process holds the same parameters (a float64 sum and sum of squares of each). Buffers
    such as BatchNorm's running statistics are rank 0's at every forward (DDP broadcasts them) and drift
    apart only within a step; rank 0's are the ones saved."""
    if not w.enabled:
        return True
    with torch.no_grad():
        floats = [t.double() for t in model.parameters()]
        sig = torch.stack([torch.stack([t.sum(), t.square().sum()]) for t in floats])
    out = [torch.empty_like(sig) for _ in range(w.size)]
    dist.all_gather(out, sig.contiguous())
    return all(torch.equal(out[0], o) for o in out[1:])


def leave(model) -> None:
    """Drop the family's DDP wrappers, then the process group: a wrapper destroyed after its group can block
    the process at exit (its reducer still waits on the group)."""
    model.undistribute()
    if dist.is_initialized():
        dist.destroy_process_group()


def pick_device(name: str) -> torch.device:
    """`auto`, `cpu` or `cuda` -> the device to train on; cuda without a CUDA device is an error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise RunError("--device cuda was asked for, but torch sees no CUDA device")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def rng_state(device: torch.device) -> dict:
    """The random generators' state of this process (CPU, and the device's when CUDA), for checkpoints."""
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
