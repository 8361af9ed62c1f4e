"""One acquisition spec: the mask kind, acceleration, centre lines, seed and noise of a simulated scan.

:data:`DEFAULT_ACQUISITION` declares the defaults once; simulation, scoring, the training config,
the CLI options and the widgets take theirs from it. An :class:`Acquisition` is checked once, when
made, and is a seeded mask function, like fastMRI's ``MaskFunc``: ``spec.mask(shape)`` is bool
``(T, H, W)``. What needs the image's row count (centre lines below H, a frame keeping a line) is
checked by :meth:`Acquisition.check_rows` where the image is known (``simulate`` calls it).

An acceleration the matrix cannot give (the centre lines alone are sampled in every frame, so ``R``
never exceeds ``H / center_lines``) is not an error: the mask samples what it must, and
:meth:`Acquisition.check_rows` warns (:class:`AccelerationWarning`) when the reached ``R`` falls far
below the one asked for (``dynmri`` prints it as one line on stderr).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from napari_dynmri import validation
from napari_dynmri.physics.masks import MASK_KINDS, actual_acceleration, make_mask

# A reached acceleration below asked / FAR_BELOW warns (rounding the lines per frame costs far less).
FAR_BELOW = 1.5
SOURCE = "the mask options"  # what a refusal of the fields names


class AccelerationWarning(UserWarning):
    """The mask cannot reach the acceleration asked for on this matrix (too few rows for it)."""


@dataclass(frozen=True)
class Acquisition:
    """A single-coil Cartesian k-t acquisition, checked when made.

    Attributes:
        kind: one of ``MASK_KINDS`` (see :mod:`napari_dynmri.physics.masks`).
        acceleration: the acceleration R asked for, in ``[1, validation.MAX_ACCELERATION]`` (a float).
        center_lines: always-sampled centre rows, an integer >= 0.
        seed: mask (and noise) seed, an integer >= 0.
        noise: complex k-space noise sigma relative to max |target| = 1, finite and >= 0 (a float).

    A value outside these raises a ``ValueError`` naming "the mask options" (:mod:`napari_dynmri.validation`).
    """

    kind: str = "vd-random"
    acceleration: float = 8.0
    center_lines: int = 8
    seed: int = 0
    noise: float = 0.0

    def __post_init__(self) -> None:
        validation.check_sampling(self.acceleration, self.center_lines, None, SOURCE)
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise validation.fail(SOURCE, f"the seed must be an integer >= 0, got {self.seed!r}")
        if not (validation.is_number(self.noise) and self.noise >= 0):
            raise validation.fail(SOURCE, f"the noise sigma must be a finite number >= 0, got {self.noise!r}")
        if self.kind not in MASK_KINDS:
            raise ValueError(f"unknown mask type {self.kind!r}; choose one of {', '.join(MASK_KINDS)}")
        for name, kind in (("acceleration", float), ("center_lines", int), ("seed", int), ("noise", float)):
            object.__setattr__(self, name, kind(getattr(self, name)))  # numpy scalars as plain numbers

    def check_rows(self, n_rows: int, source=SOURCE) -> None:
        """Refuse centre lines that leave none of ``n_rows`` (H) rows to undersample, or an acceleration
        without centre lines that keeps no row (a ``ValueError`` naming ``source``); warn with an
        :class:`AccelerationWarning` when the mask reaches far below the acceleration asked
        (``asked / FAR_BELOW``) on ``n_rows`` rows."""
        validation.check_sampling(self.acceleration, self.center_lines, n_rows, source)
        reached = float(actual_acceleration(make_mask(self.kind, (1, int(n_rows), 1), self.acceleration,
                                                      self.center_lines, self.seed)))
        if reached * FAR_BELOW < self.acceleration:
            warnings.warn(f"{source}: acceleration {self.acceleration:g} cannot be reached on {n_rows} rows with "
                          f"{self.center_lines} centre lines; the {self.kind} mask reaches R = {reached:.2f} (use "
                          "fewer centre lines or a lower acceleration)", AccelerationWarning, stacklevel=2)

    def mask(self, shape: tuple[int, int, int], seed: int | None = None) -> np.ndarray:
        """The bool ``(T, H, W)`` mask of ``shape``, drawn with ``seed`` (default: the spec's own)."""
        return make_mask(self.kind, tuple(shape), self.acceleration, center_lines=self.center_lines,
                         seed=self.seed if seed is None else seed)


DEFAULT_ACQUISITION = Acquisition()
