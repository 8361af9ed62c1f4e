"""Seeded Cartesian k-t undersampling masks for cine MRI.

A cine is complex ``(T, H, W)`` with phase encoding along ``H`` (axis -2): a mask samples whole
k-space rows (``ky`` lines), the same in every column, and may change from frame to frame.
Every generator is deterministic: the same ``seed`` gives the same mask, another seed another.

The ``center_lines`` middle rows, ``N`` rows starting at ``H // 2 - N // 2``, are always sampled.
The acceleration a mask reaches is ``H * T / (sampled rows)`` (see :func:`actual_acceleration`).

Mask kinds (``MASK_KINDS``):

``vd-random``
    k-t variable-density random lines as in Schlemper et al.'s cardiac experiments: a new draw per
    frame with density proportional to a Gaussian over ``ky`` (standard deviation ``H / 10``) plus a
    uniform floor ``1 / (2 R)``; each frame samples ``round(H / R)`` rows in all, centre included.
``uniform-random``
    As ``vd-random`` with a flat density.
``equispaced``
    Every ``R``-th row plus the centre rows. With ``shear=True`` the lattice offset advances by one
    row from frame to frame (a sheared k-t lattice, as in the CMRxRecon masks); the first offset is
    drawn from the seed.
"""

from __future__ import annotations

import numpy as np

MASK_KINDS = ("vd-random", "equispaced", "uniform-random")


def is_row_mask(mask) -> bool:
    """True when a bool ``(..., T, H, W)`` mask (numpy or torch) samples whole rows (constant along ``W``)."""
    return bool((mask == mask[..., :1]).all())


def center_rows(n_rows: int, center_lines: int) -> slice:
    """The always-sampled rows: ``center_lines`` rows starting at ``n_rows // 2 - center_lines // 2``."""
    if not 0 <= center_lines <= n_rows:
        raise ValueError(f"center_lines must be between 0 and H={n_rows}, got {center_lines}")
    start = n_rows // 2 - center_lines // 2
    return slice(start, start + center_lines)


def _check(shape: tuple[int, ...], acceleration: float) -> tuple[int, int, int]:
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"mask shape must be (T, H, W) with positive sizes, got {tuple(shape)}")
    if not acceleration >= 1:
        raise ValueError(f"acceleration must be >= 1, got {acceleration}")
    return tuple(int(s) for s in shape)


def _random_lines(shape, acceleration, center_lines, seed, density) -> np.ndarray:
    n_frames, n_rows, n_cols = _check(shape, acceleration)
    centre = center_rows(n_rows, center_lines)
    n_per_frame = max(int(round(n_rows / acceleration)), center_lines)
    outer = np.ones(n_rows, dtype=bool)
    outer[centre] = False
    candidates = np.flatnonzero(outer)
    weights = density[candidates] / density[candidates].sum()
    n_extra = min(n_per_frame - center_lines, candidates.size)
    rng = np.random.default_rng(seed)
    rows = np.zeros((n_frames, n_rows), dtype=bool)
    rows[:, centre] = True
    for t in range(n_frames):
        rows[t, rng.choice(candidates, size=n_extra, replace=False, p=weights)] = True
    return np.repeat(rows[:, :, None], n_cols, axis=2)


def vd_random_mask(
    shape: tuple[int, int, int], acceleration: float, center_lines: int = 8, seed: int = 0
) -> np.ndarray:
    """k-t variable-density random rows; returns bool ``(T, H, W)``. See the module docstring."""
    n_rows = shape[1] if len(shape) == 3 else 0
    ky = np.arange(n_rows) - n_rows // 2
    density = np.exp(-0.5 * (ky / (n_rows / 10.0)) ** 2) + 1.0 / (2.0 * max(acceleration, 1.0))
    return _random_lines(shape, acceleration, center_lines, seed, density)


def uniform_random_mask(
    shape: tuple[int, int, int], acceleration: float, center_lines: int = 8, seed: int = 0
) -> np.ndarray:
    """Uniformly random rows (a new draw per frame); returns bool ``(T, H, W)``."""
    n_rows = shape[1] if len(shape) == 3 else 0
    return _random_lines(shape, acceleration, center_lines, seed, np.ones(n_rows))


def equispaced_mask(
    shape: tuple[int, int, int],
    acceleration: float,
    center_lines: int = 8,
    seed: int = 0,
    shear: bool = True,
) -> np.ndarray:
    """Every ``R``-th row (``R = round(acceleration)``) plus the centre rows; returns bool ``(T, H, W)``.

    With ``shear`` the offset of the lattice moves by one row per frame; the first offset comes
    from ``seed``.
    """
    n_frames, n_rows, n_cols = _check(shape, acceleration)
    step = int(round(acceleration))
    first = int(np.random.default_rng(seed).integers(step))
    rows = np.zeros((n_frames, n_rows), dtype=bool)
    for t in range(n_frames):
        offset = (first + t) % step if shear else first
        rows[t, offset::step] = True
    rows[:, center_rows(n_rows, center_lines)] = True
    return np.repeat(rows[:, :, None], n_cols, axis=2)


_GENERATORS = {
    "vd-random": vd_random_mask,
    "equispaced": equispaced_mask,
    "uniform-random": uniform_random_mask,
}


def make_mask(
    kind: str,
    shape: tuple[int, int, int],
    acceleration: float,
    center_lines: int = 8,
    seed: int = 0,
) -> np.ndarray:
    """Build a mask of one of ``MASK_KINDS``; returns bool ``(T, H, W)``."""
    try:
        generator = _GENERATORS[kind]
    except KeyError:
        raise ValueError(f"unknown mask type {kind!r}; choose one of {', '.join(MASK_KINDS)}") from None
    return generator(tuple(shape), acceleration, center_lines=center_lines, seed=seed)


def actual_acceleration(mask: np.ndarray) -> float:
    """Acceleration a row mask reaches: ``H * T / (sampled rows)``, from a bool ``(T, H, W)`` mask."""
    rows = np.asarray(mask).any(axis=-1)
    if not rows.any():
        raise ValueError("the mask samples no k-space row")
    return rows.size / rows.sum()
