"""Data-parallel training across processes launched by ``torchrun`` (PyTorch DistributedDataParallel).

``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (plus ``MASTER_ADDR`` / ``MASTER_PORT``)
for every process; :func:`setup` reads them and joins the process group: backend ``nccl`` when the
processes train on CUDA (process ``LOCAL_RANK`` uses GPU ``LOCAL_RANK``), ``gloo`` on CPU. Without
those variables (or with ``WORLD_SIZE=1``) training runs in one process and nothing is initialised.

The trainer shards the sample stream: at iteration ``i``, process ``r`` of ``W`` with per-process
batch ``B`` trains on sample indices ``(i * W + r) * B + b`` for ``b < B``, so the processes see
disjoint samples and ``W`` processes consume the stream exactly as one process with batch ``W * B``
would (up to the gradient averaging order). Only rank 0 validates and writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Distributed:
    """This process's place in the job: ``rank`` of ``world_size`` processes, ``local_rank`` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """True when several processes train together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that validates and writes files."""
        return self.rank == 0


def from_environment(environ=None) -> Distributed:
    """The :class:`Distributed` described by ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` (default: one process)."""
    environ = os.environ if environ is None else environ
    try:
        world_size = int(environ.get("WORLD_SIZE", "1"))
        rank = int(environ.get("RANK", "0"))
        local_rank = int(environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise ValueError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (as torchrun sets them)") from None
    if world_size < 1 or not 0 <= rank < world_size or local_rank < 0:
        raise ValueError(f"inconsistent RANK={rank}, WORLD_SIZE={world_size}, LOCAL_RANK={local_rank}")
    return Distributed(rank, world_size, local_rank)


def setup(device: torch.device) -> tuple[Distributed, torch.device]:
    """Join the ``torchrun`` process group when there is one.

    Args:
        device: the device the user asked for (from :func:`napari_dynmri.models.select_device`).

    Returns:
        ``(dist, device)``: on CUDA with several processes the device becomes ``cuda:LOCAL_RANK``.
    """
    dist = from_environment()
    if not dist.enabled:
        return dist, device
    if device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise ValueError(f"distributed training runs on CUDA or CPU, not on {device.type}")
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend, rank=dist.rank, world_size=dist.world_size)
    return dist, device


def teardown(dist: Distributed) -> None:
    """Leave the process group joined by :func:`setup` (no-op for one process)."""
    if dist.enabled and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def average(values: dict[str, float], dist: Distributed, device: torch.device) -> dict[str, float]:
    """Mean of each float over all processes (for logging); ``values`` must have the same keys everywhere."""
    if not dist.enabled or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(tensor)
    return {k: float(v) / dist.world_size for k, v in zip(keys, tensor.tolist())}


def barrier(dist: Distributed) -> None:
    """Wait for every process (no-op for one process)."""
    if dist.enabled:
        torch.distributed.barrier()
