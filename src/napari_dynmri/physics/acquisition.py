"""One acquisition spec: the mask kind, acceleration, centre lines, seed and noise of a simulated scan.

:data:`DEFAULT_ACQUISITION` declares the defaults once; simulation, scoring, the training config,
the CLI options and the widgets take theirs from it. An :class:`Acquisition` is checked when made
and is a seeded mask function, like fastMRI's ``MaskFunc``: ``spec.mask(shape)`` is bool ``(T, H, W)``.

An acceleration the matrix cannot give (the centre lines alone are sampled in every frame, so ``R``
never exceeds ``H / center_lines``) is not an error: the mask samples what it must, and
:func:`check_acquisition` warns (:class:`AccelerationWarning`) when the reached ``R`` falls far below
the one asked for (``dynmri`` prints it as one line on stderr).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from napari_dynmri import validation
from napari_dynmri.physics.masks import MASK_KINDS, actual_acceleration, make_mask

# A reached acceleration below asked / FAR_BELOW warns (rounding the lines per frame costs far less).
FAR_BELOW = 1.5


class AccelerationWarning(UserWarning):
    """The mask cannot reach the acceleration asked for on this matrix (too few rows for it)."""


def reached_acceleration(kind, acceleration, center_lines, n_rows: int, seed: int = 0) -> float:
    """The acceleration a ``kind`` mask of these options reaches on ``n_rows`` rows (one frame drawn)."""
    return float(actual_acceleration(make_mask(kind, (1, int(n_rows), 1), acceleration, center_lines, seed)))


def check_acquisition(kind, acceleration, center_lines, seed, noise, n_rows: int | None = None,
                      source="the mask options") -> None:
    """Refuse mask and noise options that give no valid acquisition (a ``ValueError`` naming ``source``).

    The acceleration and centre lines as :func:`napari_dynmri.validation.check_sampling` (against
    ``n_rows`` = H when known), an integer seed >= 0, a finite noise sigma >= 0 and a kind of ``MASK_KINDS``.
    With ``n_rows`` known, an acceleration the mask reaches far below (``asked / FAR_BELOW``) warns
    with an :class:`AccelerationWarning` naming ``source``.
    """
    validation.check_sampling(acceleration, center_lines, n_rows, source)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise validation.fail(source, f"the seed must be an integer >= 0, got {seed!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise validation.fail(source, f"the noise sigma must be a finite number >= 0, got {noise!r}")
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask type {kind!r}; choose one of {', '.join(MASK_KINDS)}")
    if n_rows is not None:
        reached = reached_acceleration(kind, acceleration, center_lines, n_rows, seed)
        if reached * FAR_BELOW < float(acceleration):
            warnings.warn(f"{source}: acceleration {float(acceleration):g} cannot be reached on {n_rows} rows with "
                          f"{center_lines} centre lines; the {kind} mask reaches R = {reached:.2f} (use fewer "
                          "centre lines or a lower acceleration)", AccelerationWarning, stacklevel=2)


@dataclass(frozen=True)
class Acquisition:
    """A single-coil Cartesian k-t acquisition (checked on construction by :func:`check_acquisition`).

    Attributes:
        kind: one of ``MASK_KINDS`` (see :mod:`napari_dynmri.physics.masks`).
        acceleration: the acceleration R asked for (>= 1).
        center_lines: always-sampled centre rows.
        seed: mask (and noise) seed.
        noise: complex k-space noise sigma relative to max |target| = 1.
    """

    kind: str = "vd-random"
    acceleration: float = 8.0
    center_lines: int = 8
    seed: int = 0
    noise: float = 0.0

    def __post_init__(self) -> None:
        check_acquisition(self.kind, self.acceleration, self.center_lines, self.seed, self.noise)

    def mask(self, shape: tuple[int, int, int], seed: int | None = None) -> np.ndarray:
        """The bool ``(T, H, W)`` mask of ``shape``, drawn with ``seed`` (default: the spec's own)."""
        return make_mask(self.kind, tuple(shape), self.acceleration, center_lines=self.center_lines,
                         seed=self.seed if seed is None else seed)


DEFAULT_ACQUISITION = Acquisition()
