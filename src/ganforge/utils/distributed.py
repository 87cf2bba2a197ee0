"""torch.distributed glue: launched by ``torchrun`` the same command trains data-parallel.

Gradients are averaged with one flattened all-reduce per phase and network, as in stylegan2-ada's
training loop, rather than by wrapping networks in ``DistributedDataParallel``: GAN phases run the
same network several times per backward and toggle ``requires_grad`` between phases, two things
DDP's bucketed hooks assume never happen. Backend: NCCL on CUDA, gloo on CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_type: str) -> DistInfo:
    """Join the process group torchrun set up (WORLD_SIZE > 1), or run single-process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def average_gradients(module: nn.Module, world_size: int) -> None:
    """All-reduce the mean of every gradient of ``module`` in one flat buffer."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if world_size <= 1 or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat.div_(world_size)
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def average_buffers(module: nn.Module, world_size: int) -> None:
    """Average float buffers (BatchNorm running stats) so every rank samples identically."""
    if world_size <= 1:
        return
    for buf in module.buffers():
        if buf.is_floating_point():
            dist.all_reduce(buf)
            buf.div_(world_size)


def mean_across_ranks(values: list[torch.Tensor], world_size: int) -> list[torch.Tensor]:
    """Every rank's scalars averaged (one all-reduce); unchanged when single-process."""
    if world_size <= 1 or not values:
        return values
    stacked = torch.stack([v.reshape(()).float() for v in values])
    dist.all_reduce(stacked)
    return list(stacked.div_(world_size).unbind())


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
