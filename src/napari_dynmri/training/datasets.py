"""Training samples: cropped, augmented, freshly undersampled samples drawn from cine sequences.

The sequences come from :func:`napari_dynmri.data.sequences.load_sequences` (the trainer splits them
with :func:`napari_dynmri.data.sequences.split_sequences`).

:class:`CineSamples` draws sample ``i`` from its own generator ``numpy.random.default_rng([seed,
i])``, so the stream is a pure function of the run seed and the sample index (deterministic,
exactly resumable, and shardable between processes). A sample: a random sequence (or, with a
:class:`~napari_dynmri.data.augment.Variety`, sometimes a fresh random phantom), the variety's
transforms (frame count, contrast change, gamma, smooth phase, quantisation), a cyclic
temporal window, optionally a random swap of the image axes (``transpose``), a random crop of one of the
crop sizes (zero-padded when the image is smaller), random flips / time reversal, a random intensity
factor and constant phase, a random acceleration and mask kind from the lists, then a mask of the
*cropped* shape ``(T, h, w)`` and the simulated acquisition of the cropped image (with the variety's
k-space noise). With ``start="classical"`` a sample also holds the classical reconstruction that a
refining network starts from (:data:`START_METHODS` at a random weight).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from napari_dynmri.data.augment import Variety, random_phantom
from napari_dynmri.physics.acquisition import DEFAULT_ACQUISITION, Acquisition
from napari_dynmri.physics.undersample import undersample

# The classical starts of a refining network in training: the families that cs-auto chooses among, at a
# weight drawn log-uniformly within START_DECADES decades of each default (cs-auto's grid before extension).
START_METHODS = ("cs-xf", "cs-lps", "cs-ttv")
START_DECADES = 1.0
STARTS = (None, "classical")


def _crop(cine: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Random spatial crop ``(T, h, w)`` of ``(T, H, W)``, zero-padding (centred) axes smaller than the crop."""
    pads = [(0, 0)] + [((c - s) // 2, c - s - (c - s) // 2) if s < c else (0, 0) for s, c in zip(cine.shape[1:], size)]
    if any(p != (0, 0) for p in pads):
        cine = np.pad(cine, pads)
    y = int(rng.integers(cine.shape[1] - size[0] + 1))
    x = int(rng.integers(cine.shape[2] - size[1] + 1))
    return cine[:, y : y + size[0], x : x + size[1]]


def classical_start(kspace: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A reconstruction of complex ``(T, h, w)`` ``kspace`` by one of :data:`START_METHODS` (drawn) at its
    default weight times ``10 ** u``, ``u`` uniform in ``[-START_DECADES, START_DECADES]``: complex64
    ``(T, h, w)``. It stands for the candidate that cs-auto's cross-validation picks on a user's scan."""
    from napari_dynmri.recon.methods import CS_METHODS

    family = CS_METHODS[START_METHODS[int(rng.integers(len(START_METHODS)))]](device="cpu")
    factor = float(10.0 ** rng.uniform(-START_DECADES, START_DECADES))
    return np.ascontiguousarray(family.solve(kspace, mask, factor), dtype=np.complex64)


class CineSamples(torch.utils.data.Dataset):
    """Undersampled training samples drawn from cine sequences (see the module docstring).

    Args:
        sequences: complex ``(T, H, W)`` cines (e.g. from :func:`napari_dynmri.data.sequences.load_sequences`,
            names dropped).
        crop: ``(h, w)`` random crop, a list of such sizes (one drawn per sample: non-square
            matrices), or None for the full images.
        frames: temporal window length, or 0 / None for all frames.
        acquisition: the masks (an :class:`~napari_dynmri.physics.Acquisition`): its centre lines, its
            seed (that of fixed masks) and, unless ``kinds`` / ``accelerations`` are given, its kind and
            acceleration; its noise is not used (a ``variety`` draws the k-space noise).
        kinds, accelerations: the mask kinds and accelerations drawn from, one of each uniformly per
            sample (default: the acquisition's own); each pair is checked against the sample height.
        fixed_masks: False: a fresh mask per sample (seed drawn from the sample's generator);
            True: the mask of the acquisition's seed for every sample of a given shape, kind and acceleration.
        seed: the run seed; sample ``i`` uses ``numpy.random.default_rng([seed, i])``.
        flips: random up-down and left-right flips; time_reversal: random frame-order reversal.
        transpose: swap H and W of half the samples (before cropping), so anatomy is seen in both
            orientations against the phase-encoding axis; off by default, and when off the sample
            stream is the one of earlier versions.
        intensity: ``(low, high)`` range of a uniform random intensity factor.
        random_phase: multiply by ``exp(i phi)``, ``phi`` uniform in ``[0, 2 pi)``.
        variety: the transforms that model shifts to unseen scans
            (:class:`~napari_dynmri.data.augment.Variety`), or None.
        start: None, or ``"classical"``: each sample also holds ``start``, a reconstruction by one of
            :data:`START_METHODS` at a weight drawn within ``START_DECADES`` decades of its default.
        length: ``len()`` of the dataset (samples are defined for every index >= 0).

    ``dataset[i]`` is a dict: ``target``, ``zero_filled``, ``kspace`` complex64 tensors ``(T', h, w)``,
    ``mask`` bool ``(T', h, w)``, ``acceleration`` float, and ``start`` complex64 ``(T', h, w)`` with
    ``start="classical"``. ``kspace = (fft2c(target) + noise) * mask`` and ``zero_filled = ifft2c(kspace)``.
    """

    def __init__(
        self,
        sequences,
        *,
        crop: tuple[int, int] | None = (96, 96),
        frames: int | None = 20,
        acquisition: Acquisition = DEFAULT_ACQUISITION,
        kinds=None,
        accelerations=None,
        fixed_masks: bool = False,
        seed: int = 0,
        flips: bool = True,
        time_reversal: bool = True,
        transpose: bool = False,
        intensity: tuple[float, float] = (1.0, 1.0),
        random_phase: bool = False,
        variety: Variety | None = None,
        start: str | None = None,
        length: int = 2**31 - 1,
    ):
        self.sequences = [np.asarray(s) for s in sequences]
        if not self.sequences:
            raise ValueError("no training sequences")
        for s in self.sequences:
            if s.ndim != 3:
                raise ValueError(f"every sequence must be a cine (T, H, W), got shape {s.shape}")
        shortest = min(s.shape[0] for s in self.sequences)
        if frames and frames > shortest:
            raise ValueError(f"the temporal window ({frames} frames) is longer than the shortest sequence ({shortest} frames)")
        crops = None if crop is None else [crop] if np.ndim(crop) == 1 else list(crop)
        if crops is not None and not all(np.ndim(c) == 1 and len(c) == 2 and min(c) >= 1 for c in crops):
            raise ValueError(f"crop must be (height, width) with positive sizes, a list of them, or None, got {crop}")
        self.crops = None if crops is None else [(int(c[0]), int(c[1])) for c in crops]
        rows = min(c[0] for c in self.crops) if self.crops else min(s.shape[1] for s in self.sequences)
        self.frames = int(frames or 0)
        self.kinds = [acquisition.kind] if kinds is None else list(kinds)
        if not self.kinds:
            raise ValueError("the mask kinds must list at least one kind")
        self.accelerations = [acquisition.acceleration] if accelerations is None else [float(a) for a in accelerations]
        if not self.accelerations:
            raise ValueError("accelerations must list at least one factor")
        for kind in self.kinds:  # a bad kind or acceleration, or too many centre lines, fails here
            for acceleration in self.accelerations:
                dataclasses.replace(acquisition, kind=kind, acceleration=acceleration).check_rows(
                    rows, f"training samples of {rows} rows")
        if start not in STARTS:
            raise ValueError(f"start must be one of {', '.join(map(str, STARTS))}, got {start!r}")
        if variety is not None and variety.frames is not None and frames and frames > variety.frames[0]:
            raise ValueError(f"the temporal window ({frames} frames) is longer than the fewest frames of "
                             f"variety.frames ({variety.frames[0]})")
        self.acquisition = acquisition
        self.fixed_masks = bool(fixed_masks)
        self.seed = int(seed)
        self.flips = bool(flips)
        self.time_reversal = bool(time_reversal)
        self.transpose = bool(transpose)
        self.intensity = (float(intensity[0]), float(intensity[1]))
        self.random_phase = bool(random_phase)
        self.variety = variety
        self.start = start
        self.length = int(length)

    def __len__(self) -> int:
        return self.length

    def rng(self, index: int) -> np.random.Generator:
        """The generator of sample ``index``."""
        return np.random.default_rng([self.seed, int(index)])

    def __getitem__(self, index: int) -> dict:
        if index < 0:
            raise IndexError(f"sample index must be >= 0, got {index}")
        rng = self.rng(index)
        cine = self.sequences[int(rng.integers(len(self.sequences)))]
        if self.variety is not None:
            if rng.random() < self.variety.phantoms:
                cine = random_phantom(rng, *cine.shape)
            cine = self.variety.transform(cine, rng)
        n_frames = cine.shape[0]
        if self.frames:
            start = int(rng.integers(n_frames))
            cine = cine[(start + np.arange(self.frames)) % n_frames]  # cine cycles are periodic
        if self.transpose and rng.random() < 0.5:
            cine = cine.transpose(0, 2, 1)
        if self.crops is not None:
            size = self.crops[int(rng.integers(len(self.crops)))] if len(self.crops) > 1 else self.crops[0]
            cine = _crop(cine, size, rng)
        flip_y, flip_x, reverse = rng.random(3) < 0.5
        if self.flips and flip_y:
            cine = cine[:, ::-1]
        if self.flips and flip_x:
            cine = cine[:, :, ::-1]
        if self.time_reversal and reverse:
            cine = cine[::-1]
        factor = rng.uniform(*self.intensity)
        phase = rng.uniform(0.0, 2.0 * np.pi)
        target = cine * np.complex64(factor * (np.exp(1j * phase) if self.random_phase else 1.0))
        acceleration = self.accelerations[int(rng.integers(len(self.accelerations)))]
        kind = self.kinds[int(rng.integers(len(self.kinds)))] if len(self.kinds) > 1 else self.kinds[0]
        mask_seed = self.acquisition.seed if self.fixed_masks else int(rng.integers(2**63))
        spec = dataclasses.replace(self.acquisition, kind=kind, acceleration=acceleration)
        mask = spec.mask(target.shape, mask_seed)
        noise = 0.0 if self.variety is None else self.variety.noise_level(rng) * factor
        target = np.ascontiguousarray(target, dtype=np.complex64)
        kspace, zero_filled = undersample(target, mask, noise_sigma=noise, seed=int(rng.integers(2**31)))
        sample = {
            "target": torch.from_numpy(target),
            "zero_filled": torch.from_numpy(zero_filled),
            "kspace": torch.from_numpy(kspace),
            "mask": torch.from_numpy(mask),
            "acceleration": acceleration,
        }
        if self.start == "classical":
            sample["start"] = torch.from_numpy(classical_start(kspace, mask, rng))
        return sample

    def batch(self, indices) -> dict:
        """Samples ``indices`` stacked: tensors ``(B, T', h, w)`` and ``acceleration`` float ``(B,)``."""
        samples = [self[i] for i in indices]
        shapes = {tuple(s["target"].shape) for s in samples}
        if len(shapes) > 1:
            raise ValueError(
                f"samples of one batch have different shapes {sorted(shapes)}: set a crop and a temporal window"
                " (data.crop, data.frames) or use batch_size = 1"
            )
        keys = ("target", "zero_filled", "kspace", "mask", *(("start",) if self.start else ()))
        batch = {key: torch.stack([s[key] for s in samples]) for key in keys}
        batch["acceleration"] = torch.tensor([s["acceleration"] for s in samples], dtype=torch.float32)
        return batch
