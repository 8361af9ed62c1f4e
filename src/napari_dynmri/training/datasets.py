"""Training data: load cine sequences, split them train/val/test, and draw undersampled samples.

Sources (``load_sequences`` specs)
----------------------------------
``PATH.npz:sax`` / ``PATH.npz:lax``
    A key of the pig cine archive (int16 ``(slices, frames, 256, 256)``); each slice is a sequence,
    named ``sax-00``, ``sax-01``, ... Any npz key holding ``(S, T, H, W)`` or ``(T, H, W)`` works.
    ``PATH.npz`` alone means ``:sax`` when the archive has a ``sax`` key (the pig file), else the
    npz is read as one cine with :func:`napari_dynmri.io.read_cine`. The long-axis ``lax`` key is a
    cross-view test set: it is only used when named.
``phantom:N`` / ``phantom:N:TxHxW``
    ``N`` procedural cardiac phantoms (:func:`napari_dynmri.data.phantom.cardiac_phantom`, seeds
    ``0..N-1``), 20x128x128 unless a size is given; named ``phantom-00``, ...
a cine file or folder
    Anything :func:`napari_dynmri.io.read_cine` reads; a folder is read as one DICOM series when it
    holds DICOM files, else every readable cine file (or DICOM sub-folder) in it is read, sorted by
    name, other files ignored. Each slice of a multi-slice cine is a sequence (``NAME-00``, ...),
    a single-slice cine is named after its file.

Every sequence is complex64 ``(T, H, W)`` scaled to ``max |x| = 1``.

Split
-----
:func:`split_sequences` splits by sequence 5:1:2 with a seeded permutation: ``n_test =
round(n * 2 / 8)``, ``n_val = round(n / 8)`` (halves round up, each at least 1 when ``n >= 3``),
``n_train`` the rest. For the 20 short-axis slices of the pig archive: 12 train, 3 val, 5 test.

Samples
-------
:class:`CineSamples` draws sample ``i`` from its own generator ``numpy.random.default_rng([seed,
i])``, so the stream is a pure function of the run seed and the sample index (deterministic,
exactly resumable, and shardable between processes). A sample: a random sequence, a cyclic
temporal window, optionally a random swap of the image axes (``transpose``), a random crop
(zero-padded when the image is smaller), random flips / time reversal, a random intensity factor and constant phase, a random acceleration from the list, then
a mask of the *cropped* shape ``(T, h, w)`` and the simulated acquisition of the cropped image.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from napari_dynmri import validation
from napari_dynmri.physics.masks import make_mask
from napari_dynmri.physics.undersample import undersample

PHANTOM_SHAPE = (20, 128, 128)
# the phantom's smooth texture fields are drawn on a 9 x 9 block of spatial frequencies
PHANTOM_MIN_SIZE = 9
SPLIT_RATIOS = (5, 1, 2)

_NPZ = re.compile(r"^(?P<path>.+\.npz)(?::(?P<key>\w+))?$", re.IGNORECASE)
_PHANTOM = re.compile(r"^phantom:(?P<n>\d+)(?::(?P<t>\d+)x(?P<h>\d+)x(?P<w>\d+))?$")


def normalize(cine: np.ndarray, name: str = "sequence") -> np.ndarray:
    """Complex64 ``(T, H, W)`` copy of a real or complex cine, scaled to ``max |x| = 1``.

    The cine must be finite (after the cast) and at least 8 x 8 pixels (:mod:`napari_dynmri.validation`).
    """
    cine = np.asarray(cine)
    if cine.ndim != 3:
        raise ValueError(f"{name}: a sequence must be a cine (T, H, W), got shape {cine.shape}")
    validation.check_image_shape(cine.shape, name, "the sequence")
    cine = validation.cast_finite(cine, np.complex64, name, "the sequence")
    peak = float(np.abs(cine).max())
    if not peak > 0:
        raise ValueError(f"{name}: the sequence is all zeros")
    return (cine.astype(np.complex64) / np.float32(peak)).astype(np.complex64)


def _slices(data: np.ndarray, prefix: str) -> list[tuple[str, np.ndarray]]:
    if data.ndim == 3:
        return [(prefix, normalize(data, prefix))]
    if data.ndim == 4:
        return [(f"{prefix}-{z:02d}", normalize(data[z], f"{prefix}-{z:02d}")) for z in range(len(data))]
    raise ValueError(f"{prefix}: expected (T, H, W) or (slices, T, H, W), got shape {data.shape}")


def _load_npz(path: Path, key: str | None) -> list[tuple[str, np.ndarray]] | None:
    from napari_dynmri.io.npz import load_npz, npz_arrays

    names = npz_arrays(path)
    if key is None:
        if "sax" not in names:
            return None
        key = "sax"
    return _slices(load_npz(path, [key])[key], key)


def _load_phantoms(match: re.Match) -> list[tuple[str, np.ndarray]]:
    from napari_dynmri.data.phantom import cardiac_phantom

    n = int(match["n"])
    shape = tuple(int(match[k]) for k in "thw") if match["t"] else PHANTOM_SHAPE
    spec = match.group(0)
    if n < 1:
        raise ValueError(f"phantom:{n}: the number of phantoms must be at least 1")
    validation.check_image_shape(shape, spec, "each phantom", PHANTOM_MIN_SIZE)
    validation.check_decoded_size((n, *shape), np.complex64, spec, "the phantoms")
    return [(f"phantom-{i:02d}", normalize(cardiac_phantom(*shape, seed=i), f"phantom-{i:02d}")) for i in range(n)]


def _load_path(path: Path) -> list[tuple[str, np.ndarray]]:
    from napari_dynmri.io import can_read, read_cine
    from napari_dynmri.io.dicom import folder_has_dicom
    from napari_dynmri.io.readers import file_stem

    if not path.exists():
        raise ValueError(f"{path}: no such file or folder (a data source is PATH.npz[:key], phantom:N, a cine file or folder)")
    if path.is_dir() and not folder_has_dicom(path):
        entries = [p for p in sorted(path.iterdir()) if not p.name.startswith(".") and can_read(p)]
        if not entries:
            raise ValueError(f"{path}: the folder holds no readable cine file")
        return [seq for entry in entries for seq in _load_path(entry)]
    return _slices(read_cine(path).data, file_stem(path))


def load_sequences(spec) -> list[tuple[str, np.ndarray]]:
    """Load training / evaluation sequences from a source spec (see the module docstring).

    Args:
        spec: ``"PATH.npz:sax"``, ``"phantom:20"``, a cine file or folder, or a list of these.

    Returns:
        ``[(name, cine), ...]`` with ``cine`` complex64 ``(T, H, W)``, ``max |cine| = 1``.

    Raises:
        ValueError: unknown source, missing key, wrong shapes, or duplicate sequence names.
    """
    if isinstance(spec, (list, tuple)):
        sequences = [seq for item in spec for seq in load_sequences(item)]
    else:
        text = str(spec)
        phantom, npz = _PHANTOM.match(text), _NPZ.match(text)
        if phantom:
            sequences = _load_phantoms(phantom)
        elif text.startswith("phantom:"):
            raise ValueError(f"{text!r}: write phantom:N or phantom:N:TxHxW, e.g. phantom:20:20x128x128")
        elif npz and Path(npz["path"]).is_file():
            sequences = _load_npz(Path(npz["path"]), npz["key"]) or _load_path(Path(text))
        else:
            sequences = _load_path(Path(text))
    names = [name for name, _ in sequences]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate sequence names {duplicates}: each source must give distinct names")
    return sequences


def split_counts(n: int) -> tuple[int, int, int]:
    """Sizes ``(train, val, test)`` of the 5:1:2 split of ``n`` sequences (rule: module docstring)."""
    if n < 1:
        raise ValueError("cannot split an empty list of sequences")
    total = sum(SPLIT_RATIOS)
    n_val = int(np.floor(n * SPLIT_RATIOS[1] / total + 0.5))
    n_test = int(np.floor(n * SPLIT_RATIOS[2] / total + 0.5))
    if n >= 3:
        n_val, n_test = max(n_val, 1), max(n_test, 1)
    return n - n_val - n_test, n_val, n_test


def split_sequences(names, seed: int = 0) -> dict[str, list[str]]:
    """Split sequence names 5:1:2 into ``{"train": [...], "val": [...], "test": [...]}``.

    The names are sorted, permuted with ``numpy.random.default_rng(seed)`` and cut into
    consecutive parts of :func:`split_counts` sizes; each part is returned sorted. The same names
    and seed always give the same split. For 20 sequences (the pig SAX slices): 12 / 3 / 5.
    """
    names = sorted(names)
    if len(set(names)) != len(names):
        raise ValueError("sequence names must be unique to be split")
    n_train, n_val, _ = split_counts(len(names))
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    return {
        "train": sorted(order[:n_train]),
        "val": sorted(order[n_train : n_train + n_val]),
        "test": sorted(order[n_train + n_val :]),
    }


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
        sequences: complex ``(T, H, W)`` cines (e.g. from :func:`load_sequences`, names dropped).
        crop: ``(h, w)`` random crop, or None for the full images.
        frames: temporal window length, or 0 / None for all frames.
        mask_kind, accelerations, center_lines: masks (:func:`napari_dynmri.physics.make_mask`);
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
        mask_kind: str = "vd-random",
        accelerations=(8.0,),
        center_lines: int = 8,
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
        self.mask_kind = mask_kind
        self.accelerations = [float(a) for a in accelerations]
        if not self.accelerations:
            raise ValueError("accelerations must list at least one factor")
        for acceleration in self.accelerations:
            validation.check_sampling(acceleration, center_lines, rows, f"training samples of {rows} rows")
        make_mask(mask_kind, (1, 8, 8), self.accelerations[0], 0)  # fail early on a bad kind
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
        mask = make_mask(self.mask_kind, target.shape, acceleration, self.center_lines, mask_seed)
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


def fixed_case(cine: np.ndarray, mask_kind: str, acceleration: float, center_lines: int, seed: int) -> dict:
    """A full-size evaluation case: the mask of ``seed`` and the simulated acquisition.

    Returns numpy arrays: ``target`` complex64 ``(T, H, W)`` (as given), ``mask`` bool ``(T, H, W)``,
    ``kspace`` and ``zero_filled`` complex64 ``(T, H, W)``.
    """
    target = np.asarray(cine, dtype=np.complex64)
    validation.check_sampling(acceleration, center_lines, target.shape[1], "the mask options")
    mask = validation.check_mask(make_mask(mask_kind, target.shape, acceleration, center_lines, seed),
                                 target.shape, "the mask options")
    kspace, zero_filled = undersample(target, mask)
    return {"target": target, "mask": mask, "kspace": kspace, "zero_filled": zero_filled}
