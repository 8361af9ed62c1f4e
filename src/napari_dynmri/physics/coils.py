"""Receive-coil physics: sensitivity maps (ESPIRiT, birdcage), coil compression, noise, coil combination.

Conventions as in :mod:`napari_dynmri.physics.fft`: centred orthonormal FFTs, DC at ``(H//2, W//2)``,
phase encoding along rows ``H``. Multi-coil k-space is ``(T, C, H, W)`` (frames, coils, rows, columns),
sensitivity maps ``(C, H, W)``, sampling masks bool ``(T, H, W)``. numpy only (no torch, napari or Qt).

* :func:`birdcage_maps`: smooth simulated sensitivities of ``C`` loops on a circle around the field of
  view (magnitude ``1 / distance``, phase turning with the angle), normalised to a root-sum-of-squares
  of 1, so that the SENSE combination of noiseless coil images gives back the object exactly.
* :func:`espirit_maps`: ESPIRiT (Uecker et al., MRM 2014) from a fully sampled calibration region of
  the k-space centre, computed with :func:`calibration_region`: the central rows measured in *every*
  frame when there are enough of them, else the time-averaged k-space (each row averaged over the
  frames that measured it), whose centre is usually complete even when no single frame is.
  The maps are the eigenvectors of eigenvalue ~1 of the ESPIRiT operator at each pixel, with the phase
  of the first coil removed and set to zero where the eigenvalue is below ``crop``. The per-pixel
  ``C x C`` matrices are built a block of rows at a time from the kernels' autocorrelation, so memory
  grows with ``C^2 * W`` per row, not with the number of kernels; compress many coils first
  (:func:`compress_coils`).
* :func:`coil_compression` / :func:`compress_coils`: SVD (principal components over coils) to ``N``
  virtual coils, with the share of the signal energy they keep.
* :func:`noise_covariance`, :func:`whitening_matrix`, :func:`correlated_noise_covariance`: noise
  statistics between coils, from noise scans or for simulation.
* :func:`sense_combine` (``sum_c conj(S_c) x_c / sum_c |S_c|^2``, Roemer's optimal combination for white
  noise) and :func:`rss` (root-sum-of-squares).
"""

from __future__ import annotations

import numpy as np

from napari_dynmri.physics.fft import fft2c, ifft2c

# ESPIRiT defaults: calibration, kernel and threshold as BART's ecalib and sigpy's EspiritCalib; the crop is BART's.
CALIB_SIZE = 24
KERNEL_SIZE = 6
THRESHOLD = 0.02
CROP = 0.8
# Bytes of the per-pixel C x C matrices built at once by espirit_maps (a block of rows).
_BLOCK_BYTES = 64 * 2**20


def birdcage_maps(n_coils: int, shape: tuple[int, int], radius: float = 1.5, normalize: bool = True) -> np.ndarray:
    """Sensitivities of ``n_coils`` loops evenly spaced on a circle of ``radius`` (in half fields of view).

    Coil ``c`` sits at angle ``2 pi c / n_coils``; its map has magnitude ``1 / distance`` to the coil and a
    phase turning with the angle around it (as sigpy's ``birdcage_maps``). With ``normalize`` the maps are
    divided by their root-sum-of-squares, so ``sum_c |S_c|^2 = 1`` at every pixel.
    Returns complex64 ``(n_coils, H, W)``.
    """
    n_coils = int(n_coils)
    if n_coils < 1:
        raise ValueError(f"the number of coils must be >= 1, got {n_coils}")
    h, w = (int(s) for s in shape)
    y, x = np.mgrid[:h, :w].astype(np.float64)
    y, x = (y - h / 2) / (h / 2), (x - w / 2) / (w / 2)
    angle = 2 * np.pi * np.arange(n_coils)[:, None, None] / n_coils
    dx, dy = x - radius * np.cos(angle), y - radius * np.sin(angle)
    maps = np.exp(1j * (np.arctan2(dx, -dy) - angle)) / np.hypot(dx, dy)
    if normalize:
        maps /= np.sqrt(np.sum(np.abs(maps) ** 2, axis=0))
    return maps.astype(np.complex64)


def rss(images: np.ndarray, axis: int = -3) -> np.ndarray:
    """Root-sum-of-squares over the coil ``axis`` (default: the C of ``(..., C, H, W)``); real float32."""
    return np.sqrt(np.sum(np.abs(images) ** 2, axis=axis)).astype(np.float32)


def sense_combine(images: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """SENSE-1 / Roemer combination ``sum_c conj(S_c) x_c / sum_c |S_c|^2`` of coil images.

    ``images`` complex ``(..., C, H, W)``, ``maps`` ``(C, H, W)``; pixels where every map is zero give 0.
    With the true maps and noiseless fully sampled data this returns the object exactly. Returns
    complex64 ``(..., H, W)``.
    """
    maps = np.asarray(maps)
    if images.shape[-3:] != maps.shape:
        raise ValueError(f"coil images {images.shape} do not match the maps {maps.shape} in (C, H, W)")
    weight = np.sum(np.abs(maps) ** 2, axis=0)
    combined = np.sum(np.conj(maps) * images, axis=-3)
    return np.where(weight > 0, combined / np.where(weight > 0, weight, 1), 0).astype(np.complex64)


# --- noise -------------------------------------------------------------------------------------------


def correlated_noise_covariance(n_coils: int, sigma: float = 1.0, correlation: float = 0.3) -> np.ndarray:
    """A coil noise covariance for simulation: ``sigma^2 * correlation^d`` with ``d`` the distance of two
    coils around the ring (neighbours correlate most, as coupled loops do). Hermitian positive definite for
    ``0 <= correlation < 1``. Returns complex128 ``(C, C)``."""
    if not 0 <= correlation < 1:
        raise ValueError(f"the noise correlation must be in [0, 1), got {correlation}")
    c = np.arange(int(n_coils))
    distance = np.abs(c[:, None] - c[None, :])
    distance = np.minimum(distance, n_coils - distance)
    return (sigma**2 * correlation**distance).astype(np.complex128)


def noise_covariance(noise: np.ndarray) -> np.ndarray:
    """The coil noise covariance ``E[n n^H]`` estimated from noise samples ``(C, N)`` (zero mean); complex128 ``(C, C)``."""
    noise = np.asarray(noise, dtype=np.complex128)
    if noise.ndim != 2 or noise.shape[1] < 1:
        raise ValueError(f"noise samples must be (C, N), got shape {noise.shape}")
    return noise @ noise.conj().T / noise.shape[1]


def whitening_matrix(covariance: np.ndarray) -> np.ndarray:
    """``L^-1`` with ``covariance = L L^H`` (Cholesky): ``L^-1 n`` has identity covariance. Apply it over
    the coil axis (``np.einsum('dc,tchw->tdhw', W, kspace)``) to prewhiten k-space before combination."""
    return np.linalg.inv(np.linalg.cholesky(np.asarray(covariance, dtype=np.complex128)))


# --- coil compression --------------------------------------------------------------------------------


def _coil_samples(kspace: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The measured samples of ``kspace`` ``(..., C, H, W)`` as a ``(C, N)`` matrix."""
    kspace = np.asarray(kspace)
    n_coils = kspace.shape[-3]
    coils_first = np.moveaxis(kspace.reshape(-1, n_coils, *kspace.shape[-2:]), 1, 0)  # (C, T, H, W)
    if mask is None:
        return coils_first.reshape(n_coils, -1)
    mask = np.broadcast_to(np.asarray(mask, dtype=bool).reshape(-1, *kspace.shape[-2:]), coils_first.shape[1:])
    return coils_first[:, mask]


def coil_compression(kspace: np.ndarray, n_virtual: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """The SVD coil-compression matrix to ``n_virtual`` coils and the share of the energy they keep.

    The measured samples (``mask`` True, all when None) of ``kspace`` ``(..., C, H, W)`` form a
    ``C x N`` matrix ``A``; the compression matrix is ``U[:, :n]^H`` from ``A = U S V^H`` (the principal
    components over coils), and the energy kept is ``sum(S[:n]^2) / sum(S^2)``.
    Returns ``(matrix complex64 (n_virtual, C), energy_kept)``.
    """
    n_coils = np.asarray(kspace).shape[-3]
    if not 1 <= n_virtual <= n_coils:
        raise ValueError(f"the number of virtual coils must be between 1 and {n_coils}, got {n_virtual}")
    samples = _coil_samples(kspace, mask).astype(np.complex128)
    gram = samples @ samples.conj().T  # C x C: eigenvalues are S^2
    values, vectors = np.linalg.eigh(gram)
    values, vectors = values[::-1].clip(min=0), vectors[:, ::-1]
    total = float(values.sum())
    kept = float(values[:n_virtual].sum()) / total if total > 0 else 1.0
    return vectors[:, :n_virtual].conj().T.astype(np.complex64), kept


def compress_coils(kspace: np.ndarray, n_virtual: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """``kspace`` ``(..., C, H, W)`` compressed to ``n_virtual`` coils (:func:`coil_compression`).

    Returns ``(kspace complex64 (..., n_virtual, H, W), energy_kept)``.
    """
    matrix, kept = coil_compression(kspace, n_virtual, mask)
    compressed = np.einsum("vc,...chw->...vhw", matrix, np.asarray(kspace, dtype=np.complex64))
    return compressed.astype(np.complex64), kept


# --- ESPIRiT -----------------------------------------------------------------------------------------


def _central_run(sampled: np.ndarray) -> slice:
    """The longest run of True around index ``len // 2`` of a 1D bool array (empty when the centre is not True)."""
    n = sampled.size
    centre = n // 2
    if not sampled[centre]:
        return slice(centre, centre)
    start, stop = centre, centre + 1
    while start > 0 and sampled[start - 1]:
        start -= 1
    while stop < n and sampled[stop]:
        stop += 1
    return slice(start, stop)


def calibration_region(kspace: np.ndarray, mask: np.ndarray | None = None,
                       calib_size: int = CALIB_SIZE) -> tuple[np.ndarray, dict]:
    """The fully sampled centre of ``kspace`` ``(T, C, H, W)`` (or ``(C, H, W)``) used to calibrate coil maps.

    Rows measured in every frame around ``H // 2`` are used when there are at least ``min(calib_size, H)``
    of them (or all frames' rows, when shorter runs are all there is in the time average too), from the
    time-averaged k-space in either case. Otherwise each row of the time average is the mean over the
    frames that measured it, and the contiguous run of measured rows around the centre is taken.
    Columns: the central ``calib_size``. Returns ``(calib complex64 (C, rows, cols), info)`` with ``info``
    holding ``rows`` (the number of calibration rows) and ``source`` ("common to every frame" or
    "time-averaged").
    """
    kspace = np.asarray(kspace)
    if kspace.ndim == 3:
        kspace = kspace[None]
    if kspace.ndim != 4:
        raise ValueError(f"calibration needs k-space (T, C, H, W) or (C, H, W), got shape {kspace.shape}")
    n_frames, _, h, w = kspace.shape
    rows_measured = np.ones((n_frames, h), bool) if mask is None else np.asarray(mask, bool).reshape(n_frames, h, w).any(-1)
    want = min(calib_size, h)
    common = _central_run(rows_measured.all(axis=0))
    counts = rows_measured.sum(axis=0)
    union = _central_run(counts > 0)
    if common.stop - common.start >= want or (union.stop - union.start) <= (common.stop - common.start):
        run, source = common, "common to every frame"
    else:
        run, source = union, "time-averaged"
    if run.stop - run.start < 2:
        raise ValueError("the k-space centre is not sampled (fewer than 2 central rows measured even over all "
                         "frames), so coil maps cannot be calibrated")
    average = kspace.sum(axis=0) / np.maximum(counts, 1)[None, :, None]
    centre = h // 2
    half = want // 2
    rows = slice(max(run.start, centre - half), min(run.stop, centre - half + want))
    cols = slice(max(0, w // 2 - min(calib_size, w) // 2), max(0, w // 2 - min(calib_size, w) // 2) + min(calib_size, w))
    calib = average[:, rows, cols].astype(np.complex64)
    return calib, {"rows": int(rows.stop - rows.start), "cols": int(cols.stop - cols.start), "source": source}


def _patches(calib: np.ndarray, kernel: tuple[int, int]) -> np.ndarray:
    """All ``kernel`` windows of ``calib`` ``(C, ny, nx)`` as rows of a ``(windows, C * ky * kx)`` matrix."""
    windows = np.lib.stride_tricks.sliding_window_view(calib, kernel, axis=(1, 2))  # (C, py, px, ky, kx)
    return windows.transpose(1, 2, 0, 3, 4).reshape(-1, calib.shape[0] * kernel[0] * kernel[1])


def espirit_calibrate(calib: np.ndarray, shape: tuple[int, int], kernel_size: int = KERNEL_SIZE,
                      threshold: float = THRESHOLD, crop: float = CROP) -> tuple[np.ndarray, np.ndarray]:
    """ESPIRiT maps of image size ``shape`` from a calibration region ``calib`` ``(C, ny, nx)``.

    The calibration matrix (every ``kernel_size`` window of ``calib``) keeps the right singular vectors
    with a singular value above ``threshold`` times the largest; they define at each pixel ``r`` a
    Hermitian ``C x C`` matrix ``G(r) = (1/k^2) sum_j g_j(r) g_j(r)^H`` (``g_j`` the kernels in image
    space) whose eigenvector of eigenvalue 1 is the coil sensitivity. Returns ``(maps complex64 (C, H,
    W), eigenvalues float32 (H, W))``: unit-norm eigenvectors over coils, the phase of coil 0 removed,
    zero where the eigenvalue is at most ``crop``.
    """
    calib = np.asarray(calib, dtype=np.complex128)
    n_coils, ny, nx = calib.shape
    h, w = (int(s) for s in shape)
    ky, kx = min(kernel_size, ny), min(kernel_size, nx)
    matrix = _patches(calib, (ky, kx))
    _, values, vh = np.linalg.svd(matrix, full_matrices=False)
    if values.size == 0 or values[0] == 0:
        raise ValueError("the calibration region is all zeros, so coil maps cannot be calibrated")
    # The windows (rows of the matrix) lie in the span of the kept rows of V^H: these are the kernels v_j.
    v = vh[values > threshold * values[0]].reshape(-1, n_coils, ky, kx)  # (j, c, dy, dx)
    # Autocorrelation over kernels: h[c, c', s] = sum_j sum_d v_j[c, d] conj(v_j[c', d + s]), s in (-k, k).
    lag = np.zeros((n_coils, n_coils, 2 * ky - 1, 2 * kx - 1), dtype=np.complex128)
    for sy in range(-(ky - 1), ky):
        for sx in range(-(kx - 1), kx):
            a = v[:, :, max(0, -sy): ky - max(0, sy), max(0, -sx): kx - max(0, sx)]
            b = v[:, :, max(0, sy): ky + min(0, sy), max(0, sx): kx + min(0, sx)]
            lag[:, :, sy + ky - 1, sx + kx - 1] = np.einsum("jcyx,jeyx->ce", a, np.conj(b))
    lag /= ky * kx
    # G(r) = sum_s h(s) exp(-2 pi i s . r / N), r = pixel index - N // 2 (the centred FFT's grid).
    ry, rx = np.arange(h) - h // 2, np.arange(w) - w // 2
    sy, sx = np.arange(-(ky - 1), ky), np.arange(-(kx - 1), kx)
    ey = np.exp(-2j * np.pi * np.outer(ry, sy) / h)  # (H, 2ky-1)
    ex = np.exp(-2j * np.pi * np.outer(sx, rx) / w)  # (2kx-1, W)
    along_x = np.einsum("cesx,xw->cesw", lag, ex)  # (C, C, 2ky-1, W)
    maps = np.zeros((n_coils, h, w), dtype=np.complex64)
    eigen = np.zeros((h, w), dtype=np.float32)
    block = max(1, _BLOCK_BYTES // (16 * n_coils * n_coils * w))
    for start in range(0, h, block):
        rows = slice(start, min(h, start + block))
        g = np.einsum("ys,cesw->ywce", ey[rows], along_x)  # (B, W, C, C), Hermitian
        g = (g + np.conj(np.swapaxes(g, -1, -2))) / 2
        values_r, vectors_r = np.linalg.eigh(g)
        top, vec = values_r[..., -1], vectors_r[..., :, -1]  # (B, W), (B, W, C)
        phase = vec[..., :1] / np.maximum(np.abs(vec[..., :1]), 1e-30)
        vec = vec * np.conj(phase)
        maps[:, rows] = np.where(top > crop, vec.transpose(2, 0, 1), 0)
        eigen[rows] = top
    return maps, eigen


def espirit_maps(kspace: np.ndarray, mask: np.ndarray | None = None, calib_size: int = CALIB_SIZE,
                 kernel_size: int = KERNEL_SIZE, threshold: float = THRESHOLD, crop: float = CROP,
                 return_info: bool = False):
    """ESPIRiT coil maps of multi-coil k-space ``(T, C, H, W)`` or ``(C, H, W)`` with its mask.

    Calibrates from :func:`calibration_region` (rows common to every frame, else the time-averaged
    centre) with :func:`espirit_calibrate`. Returns complex64 maps ``(C, H, W)``, or ``(maps, info)``
    with ``return_info`` (``info``: the calibration region used and the eigenvalue map).
    """
    kspace = np.asarray(kspace)
    h, w = kspace.shape[-2:]
    calib, info = calibration_region(kspace, mask, calib_size)
    maps, eigen = espirit_calibrate(calib, (h, w), kernel_size, threshold, crop)
    if return_info:
        return maps, {**info, "eigenvalues": eigen, "kernel_size": kernel_size, "threshold": threshold, "crop": crop}
    return maps


def coil_images(kspace: np.ndarray) -> np.ndarray:
    """Zero-filled coil images ``ifft2c(kspace)`` of ``(..., C, H, W)`` k-space; complex64."""
    return ifft2c(np.asarray(kspace, dtype=np.complex64))


def coil_kspace(image: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Multi-coil k-space ``fft2c(S_c x)`` of an image ``(..., H, W)`` and maps ``(C, H, W)``: ``(..., C, H, W)``."""
    return fft2c(np.asarray(image, dtype=np.complex64)[..., None, :, :] * np.asarray(maps, dtype=np.complex64))
