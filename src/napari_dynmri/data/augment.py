"""Training variety: seeded transforms of a complex cine that model how a user's scan differs from the pig's.

Each transform is a pure function of the cine and a ``numpy.random.Generator``, and each models one
shift between the training cines (pig short axis, magnitude, 20 frames, 256 x 256, nearly
noiseless) and real scans of other anatomy, species and scanners:

========================  =====================================================================
transform                 shift it models
========================  =====================================================================
:func:`smooth_phase`      complex scans: a smooth background phase (B0, coil and receive phase)
:func:`contrast_change`   perfusion / DCE: regions that brighten and wash out over the scan
                          (not periodic, unlike a cardiac cycle)
:func:`resample_frames`   other temporal resolutions: 8 to 75 frames by periodic resampling
:func:`quantise`          8- and 12-bit magnitude exports (DICOM, PNG, video)
:func:`gamma`             other contrasts and windowing: ``|x| ** gamma``, phase kept
(noise, in :class:`Variety`) thermal noise of the measurements, in k-space
========================  =====================================================================

Flips, 90-degree rotations, swapped phase-encoding direction, crops and non-square matrices, the
acceleration and the mask kind are drawn by :class:`napari_dynmri.training.datasets.CineSamples`;
fresh procedural phantoms (random shapes and motion) by :func:`random_phantom`.

:class:`Variety` holds the switches (a probability or a range per transform, every one off by
default) and applies them in a fixed order; ``docs/training.md`` describes the shipped settings.
The stress sets of ``benchmarks/generalisation.py`` use the same transforms at fixed parameters on
cines that training never sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_dynmri.data.phantom import cardiac_phantom

# phantom seeds below this are the test phantoms of the benchmarks; training draws above it
PHANTOM_TRAIN_SEEDS = 1000


def resample_frames(cine: np.ndarray, n_frames: int) -> np.ndarray:
    """Periodic resampling over time: Fourier interpolation (or decimation) of ``(T, H, W)`` to ``n_frames``."""
    spectrum = np.fft.fftshift(np.fft.fft(cine, axis=0), axes=0)
    frames = cine.shape[0]
    if n_frames > frames:
        pad = n_frames - frames
        spectrum = np.pad(spectrum, ((pad // 2, pad - pad // 2), (0, 0), (0, 0)))
    else:
        start = (frames - n_frames) // 2
        spectrum = spectrum[start:start + n_frames]
    return np.fft.ifft(np.fft.ifftshift(spectrum, axes=0), axis=0) * (n_frames / frames)


def smooth_phase(shape: tuple[int, int], rng: np.random.Generator, cutoff: int = 3) -> np.ndarray:
    """A random smooth phase map ``(H, W)`` in ``[-pi, pi]`` (spatial frequencies up to ``cutoff``)."""
    spectrum = np.zeros(shape, dtype=np.complex128)
    cy, cx = shape[0] // 2, shape[1] // 2
    spectrum[cy - cutoff:cy + cutoff + 1, cx - cutoff:cx + cutoff + 1] = (
        rng.standard_normal((2 * cutoff + 1,) * 2) + 1j * rng.standard_normal((2 * cutoff + 1,) * 2))
    field = np.real(np.fft.ifft2(np.fft.ifftshift(spectrum)))
    return np.pi * field / np.abs(field).max()


def contrast_uptake(cine: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``cine`` with a Gaussian region near the centre brightening along a sigmoid uptake curve (gain
    up to 2.5x): the fixed instance of :func:`contrast_change` that the ``uptake`` stress set uses."""
    n_frames, height, width = cine.shape
    cy, cx = rng.uniform(0.35, 0.65) * height, rng.uniform(0.35, 0.65) * width
    radius = min(height, width) / 6
    yy, xx = np.mgrid[:height, :width]
    region = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
    onset = rng.uniform(0.2, 0.4) * n_frames
    curve = 1.5 / (1 + np.exp(-(np.arange(n_frames) - onset) / (0.08 * n_frames)))
    return cine * (1 + curve[:, None, None] * region[None])


def contrast_change(cine: np.ndarray, rng: np.random.Generator, regions: int = 3) -> np.ndarray:
    """``cine`` times ``1 + sum_r c_r(t) g_r(y, x)``: 1 to ``regions`` Gaussian regions anywhere, each with
    an uptake (sigmoid onset, gain 0.3-3) and, in half the regions, a wash-out (exponential decay)."""
    n_frames, height, width = cine.shape
    yy, xx = np.mgrid[:height, :width]
    t = np.arange(n_frames)
    gain = np.zeros(cine.shape, dtype=np.float64)
    for _ in range(int(rng.integers(1, regions + 1))):
        cy, cx = rng.uniform(0.1, 0.9) * height, rng.uniform(0.1, 0.9) * width
        radius = rng.uniform(0.05, 0.25) * min(height, width)
        region = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
        onset, rise = rng.uniform(0.0, 0.6) * n_frames, rng.uniform(0.02, 0.15) * n_frames
        curve = rng.uniform(0.3, 3.0) / (1 + np.exp(-(t - onset) / rise))
        if rng.random() < 0.5:
            curve = curve * np.exp(-np.clip(t - onset, 0, None) * rng.uniform(0.5, 3.0) / n_frames)
        gain += curve[:, None, None] * region[None]
    return cine * (1 + gain)


def quantise(cine: np.ndarray, bits: int) -> np.ndarray:
    """The magnitude of ``cine`` rounded to ``2 ** bits - 1`` levels of its maximum (phase dropped, as in
    a magnitude export): complex ``(T, H, W)`` with zero imaginary part."""
    magnitude = np.abs(cine)
    top = max(float(magnitude.max()), 1e-30)
    levels = 2**bits - 1
    return (np.round(magnitude / top * levels) / levels * top).astype(cine.dtype)


def gamma(cine: np.ndarray, exponent: float) -> np.ndarray:
    """``|x| ** exponent`` (relative to the maximum) with the phase of ``x`` kept."""
    relative = np.abs(cine) / max(float(np.abs(cine).max()), 1e-30)
    factor = np.power(relative, exponent - 1, out=np.ones_like(relative), where=relative > 0)
    return cine * factor.astype(np.float32)


def random_phantom(rng: np.random.Generator, frames: int, height: int, width: int) -> np.ndarray:
    """A procedural cardiac phantom with random anatomy, heart rate and breathing, complex64 ``(T, H, W)``;
    its seed is drawn at or above ``PHANTOM_TRAIN_SEEDS``, so it is never a benchmark phantom."""
    seed = PHANTOM_TRAIN_SEEDS + int(rng.integers(2**31))
    return cardiac_phantom(frames, height, width, seed=seed, breathing=bool(rng.random() < 0.5))


def _range(value, name: str, low: float, high: float | None = None) -> tuple[float, float]:
    if value is None:
        return None
    if len(value) != 2 or not value[0] <= value[1] or value[0] < low or (high is not None and value[1] > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be [low, high] with low <= high, {bounds}, got {list(value)}")
    return float(value[0]), float(value[1])


def _probability(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability between 0 and 1, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Variety:
    """Which transforms training samples get, and how strongly (every one off by default).

    Args:
        smooth_phase: probability of a random smooth phase map (:func:`smooth_phase`).
        contrast: probability of contrast uptake / wash-out regions (:func:`contrast_change`).
        frames: ``[low, high]`` frame counts; each sample is periodically resampled
            (:func:`resample_frames`) to a count drawn in it (before the temporal window); None: off.
        quantise: probability of a magnitude export, 8 or 12 bits with equal chance (:func:`quantise`).
        gamma: ``[low, high]`` range of the exponent of :func:`gamma`; None: off.
        noise: ``[low, high]`` range of the k-space noise standard deviation relative to the sample's
            maximum magnitude (each sample draws one, log-uniformly when ``low > 0``); None: noiseless.
        phantoms: probability that a sample is a fresh random phantom (:func:`random_phantom`)
            instead of a training cine.
    """

    smooth_phase: float = 0.0
    contrast: float = 0.0
    frames: tuple[int, int] | None = None
    quantise: float = 0.0
    gamma: tuple[float, float] | None = None
    noise: tuple[float, float] | None = None
    phantoms: float = 0.0

    def __post_init__(self):
        for name in ("smooth_phase", "contrast", "quantise", "phantoms"):
            object.__setattr__(self, name, _probability(getattr(self, name), f"variety.{name}"))
        frames = _range(self.frames, "variety.frames", 2)
        object.__setattr__(self, "frames", None if frames is None else (int(frames[0]), int(frames[1])))
        object.__setattr__(self, "gamma", _range(self.gamma, "variety.gamma", 0.1, 10.0))
        object.__setattr__(self, "noise", _range(self.noise, "variety.noise", 0.0, 1.0))

    def transform(self, cine: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``cine`` (complex ``(T, H, W)``) with this variety's transforms applied, complex64.

        Order: frame count, contrast change, gamma, smooth phase, quantisation (a magnitude export
        drops the phase that the scanner had, so it comes last).
        """
        cine = np.asarray(cine, dtype=np.complex64)
        if self.frames is not None:
            cine = resample_frames(cine, int(rng.integers(self.frames[0], self.frames[1] + 1)))
        if rng.random() < self.contrast:
            cine = contrast_change(cine, rng)
        if self.gamma is not None:
            cine = gamma(cine, rng.uniform(*self.gamma))
        if rng.random() < self.smooth_phase:
            cine = cine * np.exp(1j * smooth_phase(cine.shape[1:], rng))
        if rng.random() < self.quantise:
            cine = quantise(cine, 8 if rng.random() < 0.5 else 12)
        cine = np.asarray(cine, dtype=np.complex64)
        return cine / max(float(np.abs(cine).max()), 1e-30)

    def noise_level(self, rng: np.random.Generator) -> float:
        """A k-space noise standard deviation for one sample (0 when noise is off)."""
        if self.noise is None:
            return 0.0
        low, high = self.noise
        if low > 0:
            return float(np.exp(rng.uniform(np.log(low), np.log(high))))
        return float(rng.uniform(low, high))
