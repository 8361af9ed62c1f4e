"""What the ``[optimizer]``, ``[schedule]`` and ``[loss]`` tables of a training configuration build.

``build_optimizer`` (Adam or SGD), ``learning_rate`` (a pure function of the iteration, so a resumed
run continues the schedule exactly) and ``build_training_loss`` (the loss, with unreadable weights
files of a perceptual backbone refused in one line).
"""

from __future__ import annotations

import math
import warnings

import torch

from napari_dynmri.losses import build_loss
from napari_dynmri.training.config import TrainConfig


def learning_rate(config: TrainConfig, iteration: int) -> float:
    """Learning rate of step ``iteration`` (0-based) under ``config.schedule``."""
    base, schedule = config.optimizer.lr, config.schedule
    if schedule.name == "cosine":
        progress = min(iteration / config.iterations, 1.0)
        return schedule.min_lr + (base - schedule.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule.name == "step":
        return base * schedule.gamma ** (iteration // schedule.step_size)
    return base


def build_optimizer(config: TrainConfig, parameters) -> torch.optim.Optimizer:
    """Adam or SGD (with momentum) from ``config.optimizer``."""
    opt = config.optimizer
    if opt.name == "sgd":
        return torch.optim.SGD(parameters, lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay)
    return torch.optim.Adam(parameters, lr=opt.lr, betas=opt.betas, weight_decay=opt.weight_decay)


def build_training_loss(table: dict):
    """``build_loss(table)``; weights files it cannot read (a pickle, random bytes: torch's unpickler
    then raises anything from UnpicklingError to IndexError, with warnings) raise one ``ValueError``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return build_loss(table)
    except (ValueError, OSError):
        raise
    except Exception as err:
        first = " ".join(str(err).split()).split(". ")[0]
        raise ValueError(
            f"loss {table}: cannot read its weights ({type(err).__name__}: {first}); give a "
            ".safetensors file or a .pth file holding a plain state dict"
        ) from err
