"""A seeded procedural cardiac cine phantom: chest wall, blood pools and a beating myocardium.

Geometry lives in normalised coordinates (``[-1, 1]`` over each axis), so any ``(T, H, W)`` works.
The left-ventricular cavity contracts and relaxes once per cycle while the myocardium thickens
(its area is kept nearly constant), the right ventricle moves with it, and an optional breathing
motion shifts the heart and stretches the body. Tissue carries smooth multiplicative texture and
the image a smooth phase, so the cine is complex like a real single-coil acquisition.
"""

from __future__ import annotations

import numpy as np


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], cutoff: int) -> np.ndarray:
    """Zero-mean random field with only the lowest ``cutoff`` spatial frequencies, max |f| = 1."""
    spectrum = np.zeros(shape, dtype=np.complex128)
    cy, cx = shape[0] // 2, shape[1] // 2
    block = (rng.standard_normal((2 * cutoff + 1, 2 * cutoff + 1))
             + 1j * rng.standard_normal((2 * cutoff + 1, 2 * cutoff + 1)))
    spectrum[cy - cutoff: cy + cutoff + 1, cx - cutoff: cx + cutoff + 1] = block
    spectrum[cy, cx] = 0
    field = np.real(np.fft.ifft2(np.fft.ifftshift(spectrum)))
    return field / max(np.abs(field).max(), 1e-12)


def _inside(distance: np.ndarray, edge: float) -> np.ndarray:
    """Soft indicator of ``distance < 1`` with an edge about ``edge`` wide (anti-aliased shapes)."""
    return 1.0 / (1.0 + np.exp(np.clip((distance - 1.0) / edge, -50, 50)))


def cardiac_phantom(
    n_frames: int = 20,
    height: int = 128,
    width: int = 128,
    seed: int = 0,
    breathing: bool = False,
) -> np.ndarray:
    """Make a cardiac cine phantom.

    Parameters
    ----------
    n_frames, height, width : the cine size ``(T, H, W)``; ``T >= 1``, ``H, W >= 8``.
    seed : seeds the anatomy (sizes, position, textures, phase); same seed, same phantom.
    breathing : add a slow respiratory motion (0.6 cycles over the cine).

    Returns
    -------
    complex64 ``(T, H, W)``, magnitude in ``[0, 1]`` (max 1).
    """
    if n_frames < 1 or height < 8 or width < 8:
        raise ValueError(f"phantom size must be T >= 1, H >= 8, W >= 8, got ({n_frames}, {height}, {width})")
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    edge = 1.5 / min(height, width)

    centre = np.array([-0.05, 0.05]) + rng.uniform(-0.08, 0.08, 2)  # LV centre (y, x)
    r_endo_rest = rng.uniform(0.17, 0.22)
    wall = rng.uniform(0.07, 0.10)
    r_epi_rest = r_endo_rest + wall
    contraction = rng.uniform(0.30, 0.40)  # fractional cavity radius change at end-systole
    textures = [0.15 * _smooth_field(rng, (height, width), 4) for _ in range(4)]
    phase = np.pi * 0.6 * _smooth_field(rng, (height, width), 2)

    breath_phase = rng.uniform(0, 2 * np.pi)
    frames = np.empty((n_frames, height, width), dtype=np.complex64)
    for t in range(n_frames):
        cycle = t / n_frames
        beat = 0.5 * (1 - np.cos(2 * np.pi * cycle))  # 0 at end-diastole, 1 at end-systole
        breath = 0.04 * np.sin(2 * np.pi * 0.6 * cycle + breath_phase) if breathing else 0.0
        cy, cx = centre[0] + breath, centre[1]

        body = _inside(np.hypot(x / 0.88, y / (0.70 + 0.5 * breath)), edge)
        lungs = _inside(np.hypot((np.abs(x) - 0.45) / 0.28, (y + 0.05) / 0.45), edge)
        chest_wall = body - _inside(np.hypot(x / 0.80, y / (0.62 + 0.5 * breath)), edge)

        r_endo = r_endo_rest * (1 - contraction * beat)
        # myocardial area is (nearly) conserved: the wall thickens as the cavity shrinks
        r_epi = np.sqrt(r_endo**2 + r_epi_rest**2 - r_endo_rest**2)
        d_lv = np.hypot(x - cx, y - cy)
        lv_blood = _inside(d_lv / r_endo, edge)
        myocardium = _inside(d_lv / r_epi, edge) - lv_blood
        rv_centre_x = cx - r_epi - 0.08 * (1 - 0.4 * beat)
        rv = _inside(np.hypot((x - rv_centre_x) / (0.16 * (1 - 0.3 * beat)), (y - cy) / 0.28), edge)
        rv_blood = rv * (1 - _inside(d_lv / r_epi, edge))

        image = (
            0.35 * body * (1 + textures[0])
            - 0.30 * lungs * body
            + 0.45 * chest_wall * (1 + textures[1])
            + 0.30 * myocardium * (1 + textures[2])
            + 0.95 * lv_blood * (1 + 0.5 * textures[3])
            + 0.85 * rv_blood * (1 + 0.5 * textures[3])
        )
        image = np.clip(image, 0, None)
        frames[t] = (image * np.exp(1j * phase)).astype(np.complex64)
    return frames / np.abs(frames).max()
