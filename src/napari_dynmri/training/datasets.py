"""Training samples: cropped, augmented, freshly undersampled samples drawn from cine sequences.

The sequences come from :func:`napari_dynmri.data.sequences.load_sequences` (the trainer splits them
with :func:`napari_dynmri.data.sequences.split_sequences`).

:class:`CineSamples` draws sample ``i`` from its own generator ``numpy.random.default_rng([seed,
i])``, so the stream is a pure function of the run seed and the sample index (deterministic,
exactly resumable, and shardable between processes). A sample: a random sequence, a cyclic
temporal window, optionally a random swap of the image axes (``transpose``), a random crop
(zero-padded when the image is smaller), random flips / time reversal, a random intensity factor and constant phase, a random acceleration from the list, then
a mask of the *cropped* shape ``(T, h, w)`` and the simulated acquisition of the cropped image.
"""

from __future__ import annotations

import numpy as np
import torch

from napari_dynmri import validation
from napari_dynmri.physics.acquisition import DEFAULT_ACQUISITION
from napari_dynmri.physics.masks import make_mask
from napari_dynmri.physics.undersample import undersample


def _crop(cine: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Random spatial crop ``(T, h, w)`` of ``(T, H, W)``, zero-padding (centred) axes smaller than the crop."""
    pads = [(0, 0)] + [((c - s) // 2, c - s - (c - s) // 2) if s < c else (0, 0) for s, c in zip(cine.shape[1:], size)]
    if any(p != (0, 0) for p in pads):
        cine = np.pad(cine, pads)
    y = int(rng.integers(cine.shape[1] - size[0] + 1))
    x = int(rng.integers(cine.shape[2] - size[1] + 1))
    return cine[:, y : y + size[0], x : x + size[1]]


class CineSamples(torch.utils.data.Dataset):
    """Undersampled training samples drawn from cine sequences (see the module docstring).

    Args:
        sequences: complex ``(T, H, W)`` cines (e.g. from :func:`napari_dynmri.data.sequences.load_sequences`,
            names dropped).
        crop: ``(h, w)`` random crop, or None for the full images.
        frames: temporal window length, or 0 / None for all frames.
        kind, accelerations, center_lines: masks (:func:`napari_dynmri.physics.make_mask`);
            one acceleration is drawn uniformly per sample.
        fixed_masks: False: a fresh mask per sample (seed drawn from the sample's generator);
            True: the mask of seed ``mask_seed`` for every sample of a given shape and acceleration.
        seed: the run seed; sample ``i`` uses ``numpy.random.default_rng([seed, i])``.
        flips: random up-down and left-right flips; time_reversal: random frame-order reversal.
        transpose: swap H and W of half the samples (before cropping), so anatomy is seen in both
            orientations against the phase-encoding axis; off by default, and when off the sample
            stream is the one of earlier versions.
        intensity: ``(low, high)`` range of a uniform random intensity factor.
        random_phase: multiply by ``exp(i phi)``, ``phi`` uniform in ``[0, 2 pi)``.
        length: ``len()`` of the dataset (samples are defined for every index >= 0).

    ``dataset[i]`` is a dict: ``target``, ``zero_filled``, ``kspace`` complex64 tensors ``(T', h, w)``,
    ``mask`` bool ``(T', h, w)``, ``acceleration`` float. ``kspace = fft2c(target) * mask`` and
    ``zero_filled = ifft2c(kspace)``.
    """

    def __init__(
        self,
        sequences,
        *,
        crop: tuple[int, int] | None = (96, 96),
        frames: int | None = 20,
        kind: str = DEFAULT_ACQUISITION.kind,
        accelerations=(DEFAULT_ACQUISITION.acceleration,),
        center_lines: int = DEFAULT_ACQUISITION.center_lines,
        fixed_masks: bool = False,
        mask_seed: int = 0,
        seed: int = 0,
        flips: bool = True,
        time_reversal: bool = True,
        transpose: bool = False,
        intensity: tuple[float, float] = (1.0, 1.0),
        random_phase: bool = False,
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
        if crop is not None and (len(crop) != 2 or min(crop) < 1):
            raise ValueError(f"crop must be (height, width) with positive sizes or None, got {crop}")
        self.crop = None if crop is None else (int(crop[0]), int(crop[1]))
        rows = self.crop[0] if self.crop else min(s.shape[1] for s in self.sequences)
        if not 0 <= center_lines <= rows:
            raise ValueError(f"center_lines ({center_lines}) must be between 0 and the sample height ({rows} rows)")
        self.frames = int(frames or 0)
        self.kind = kind
        self.accelerations = [float(a) for a in accelerations]
        if not self.accelerations:
            raise ValueError("accelerations must list at least one factor")
        for acceleration in self.accelerations:
            validation.check_sampling(acceleration, center_lines, rows, f"training samples of {rows} rows")
        make_mask(kind, (1, 8, 8), self.accelerations[0], 0)  # fail early on a bad kind
        self.center_lines = int(center_lines)
        self.fixed_masks = bool(fixed_masks)
        self.mask_seed = int(mask_seed)
        self.seed = int(seed)
        self.flips = bool(flips)
        self.time_reversal = bool(time_reversal)
        self.transpose = bool(transpose)
        self.intensity = (float(intensity[0]), float(intensity[1]))
        self.random_phase = bool(random_phase)
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
        n_frames = cine.shape[0]
        if self.frames:
            start = int(rng.integers(n_frames))
            cine = cine[(start + np.arange(self.frames)) % n_frames]  # cine cycles are periodic
        if self.transpose and rng.random() < 0.5:
            cine = cine.transpose(0, 2, 1)
        if self.crop is not None:
            cine = _crop(cine, self.crop, rng)
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
        mask_seed = self.mask_seed if self.fixed_masks else int(rng.integers(2**63))
        mask = make_mask(self.kind, target.shape, acceleration, self.center_lines, mask_seed)
        kspace, zero_filled = undersample(np.ascontiguousarray(target, dtype=np.complex64), mask)
        return {
            "target": torch.from_numpy(np.ascontiguousarray(target, dtype=np.complex64)),
            "zero_filled": torch.from_numpy(zero_filled),
            "kspace": torch.from_numpy(kspace),
            "mask": torch.from_numpy(mask),
            "acceleration": acceleration,
        }

    def batch(self, indices) -> dict:
        """Samples ``indices`` stacked: tensors ``(B, T', h, w)`` and ``acceleration`` float ``(B,)``."""
        samples = [self[i] for i in indices]
        shapes = {tuple(s["target"].shape) for s in samples}
        if len(shapes) > 1:
            raise ValueError(
                f"samples of one batch have different shapes {sorted(shapes)}: set a crop and a temporal window"
                " (data.crop, data.frames) or use batch_size = 1"
            )
        batch = {key: torch.stack([s[key] for s in samples]) for key in ("target", "zero_filled", "kspace", "mask")}
        batch["acceleration"] = torch.tensor([s["acceleration"] for s in samples], dtype=torch.float32)
        return batch
