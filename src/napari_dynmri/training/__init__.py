"""Training of reconstruction networks (torch): data pipeline, configuration, trainer, checkpoints, progress.

- ``datasets``: ``CineSamples`` (cropped, augmented, freshly undersampled samples of the sequences
  that :mod:`napari_dynmri.data.sequences` loads and splits 5:1:2).
- ``config``: ``TrainConfig`` from TOML and/or overrides (``load_config``), strict validation.
- ``trainer``: ``train(config) -> output folder``: the loop, its interrupts and the model card.
- ``optim``: the optimizer, the learning-rate schedule and the loss a configuration asks for.
- ``scoring``: validation and test scores of the network, as ``dynmri eval`` computes them.
- ``checkpoint``: the resumable ``checkpoint/`` folder (write, check, restore).
- ``progress``: the progress bar and messages, ``metrics.csv`` and its curves (``curves``).
- ``distributed``: DistributedDataParallel under ``torchrun``.
"""

from napari_dynmri.training.config import TrainConfig, config_from_dict, load_config
from napari_dynmri.training.datasets import CineSamples
from napari_dynmri.training.trainer import train

__all__ = [
    "CineSamples",
    "TrainConfig",
    "config_from_dict",
    "load_config",
    "train",
]
