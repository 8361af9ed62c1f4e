"""One interface for every reconstruction method: zero filling, compressed sensing, networks.

Every method is a :class:`ReconMethod` made by :func:`get_method` from a spec string:

``"zero-filled"``
    ``ifft2c(kspace)``.
``"view-sharing"``
    k-t sliding-window view sharing (:mod:`napari_dynmri.physics.view_sharing`); option ``half_window``.
``"cs-ttv"``
    temporal-TV compressed sensing (:mod:`napari_dynmri.recon.cs`); options ``lam``, ``iterations``.
anything else
    a network: a shipped model name or a checkpoint path, loaded by
    ``napari_dynmri.models.pretrained.resolve_model``; options ``window``, ``overlap``
    (see :mod:`napari_dynmri.recon.windowed`) and ``mixed_precision``.

``method.reconstruct(kspace, mask)`` takes complex ``(T, H, W)`` k-space (zero where not sampled)
and a bool ``(T, H, W)`` mask and returns the complex64 ``(T, H, W)`` image. The CLI, the napari
widgets and the benchmarks all go through :func:`get_method`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from napari_dynmri.physics.fft import ifft2c
from napari_dynmri.physics.view_sharing import DEFAULT_HALF_WINDOW, view_share

ZERO_FILLED = "zero-filled"
VIEW_SHARING = "view-sharing"
CS_TTV = "cs-ttv"
BUILTIN_METHODS = (ZERO_FILLED, VIEW_SHARING, CS_TTV)

Progress = Callable[[int, int], None]
ShouldStop = Callable[[], bool]


class ReconCancelled(Exception):
    """A reconstruction stopped early because its ``should_stop()`` callback returned True."""


def check_recon_inputs(kspace, mask) -> tuple[np.ndarray, np.ndarray]:
    """``kspace`` as complex64 and ``mask`` as bool, both ``(T, H, W)``; other shapes raise ``ValueError``."""
    kspace = np.asarray(kspace)
    mask = np.asarray(mask)
    if kspace.ndim != 3:
        raise ValueError(f"k-space must be a cine (T, H, W), got shape {kspace.shape}")
    if mask.shape != kspace.shape:
        raise ValueError(f"mask shape {mask.shape} does not match k-space shape {kspace.shape}")
    return kspace.astype(np.complex64, copy=False), mask.astype(bool, copy=False)


class ReconMethod:
    """Base class of reconstruction methods.

    Attributes: ``name`` (what the CLI and tables call it), ``description`` (one line) and
    ``device`` (where it computes: ``"cpu"``, ``"cuda"``, ``"mps"``).
    """

    name: str = ""
    description: str = ""
    device: str = "cpu"

    def reconstruct(
        self,
        kspace: np.ndarray,
        mask: np.ndarray,
        *,
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
    ) -> np.ndarray:
        """complex (T, H, W) k-space, bool (T, H, W) mask -> complex64 (T, H, W) image.

        ``progress(done, total)`` is called as the work advances; ``should_stop()`` is polled
        between steps and a True answer raises :class:`ReconCancelled`.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} on {self.device}>"


class OneStepMethod(ReconMethod):
    """A method computed in one step from k-space and mask: cancellable before, one progress tick after."""

    def image(self, kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """complex64 ``(T, H, W)`` k-space (zero where not sampled), bool mask -> complex ``(T, H, W)`` image."""
        raise NotImplementedError

    def reconstruct(self, kspace, mask, *, progress=None, should_stop=None):
        kspace, mask = check_recon_inputs(kspace, mask)
        if should_stop is not None and should_stop():
            raise ReconCancelled("the reconstruction was cancelled")
        image = self.image(kspace * mask, mask).astype(np.complex64)
        if progress is not None:
            progress(1, 1)
        return image


class ZeroFilled(OneStepMethod):
    """The inverse FFT of the zero-filled k-space."""

    name = ZERO_FILLED
    description = "inverse FFT of the measured k-space, zeros elsewhere"

    def image(self, kspace, mask):
        return ifft2c(kspace)


class ViewSharing(OneStepMethod):
    """Each frame's missing lines filled from neighbouring frames, see :func:`napari_dynmri.physics.view_share`."""

    name = VIEW_SHARING

    def __init__(self, half_window: int | None = None):
        self.half_window = DEFAULT_HALF_WINDOW if half_window is None else int(half_window)
        if self.half_window < 0:
            raise ValueError(f"half_window must be >= 0, got {self.half_window}")
        self.description = f"k-t view sharing over {2 * self.half_window + 1} frames"

    def image(self, kspace, mask):
        return ifft2c(view_share(kspace, mask, self.half_window))


class TemporalTVMethod(ReconMethod):
    """Temporal total-variation compressed sensing, see :func:`napari_dynmri.recon.cs.ttv_reconstruct`."""

    name = CS_TTV

    def __init__(self, lam: float | None = None, iterations: int | None = None, device: str = "cpu"):
        from napari_dynmri.recon import cs

        self.lam = cs.DEFAULT_LAM if lam is None else float(lam)
        self.iterations = cs.DEFAULT_ITERATIONS if iterations is None else int(iterations)
        if self.lam < 0:
            raise ValueError(f"lam must be >= 0, got {self.lam}")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        self.device = device
        self.description = (
            f"compressed sensing, temporal total variation (lam {self.lam:g}, "
            f"{self.iterations} ADMM iterations)"
        )

    def reconstruct(self, kspace, mask, *, progress=None, should_stop=None):
        from napari_dynmri.recon.cs import ttv_reconstruct

        kspace, mask = check_recon_inputs(kspace, mask)
        return ttv_reconstruct(
            kspace,
            mask,
            lam=self.lam,
            iterations=self.iterations,
            progress=progress,
            should_stop=should_stop,
            device=self.device,
        )


class NetworkMethod(ReconMethod):
    """A trained network applied to overlapping time windows (see :mod:`napari_dynmri.recon.windowed`).

    ``model(zero_filled, kspace, mask)`` takes complex ``(B, T, H, W)`` tensors and a bool
    ``(B | 1, T, H, W)`` mask and returns complex ``(B, T, H, W)``. It runs under
    ``torch.inference_mode`` on ``device``. ``mixed_precision`` enables float16 autocast on CUDA
    (only for models whose FFT / data-consistency code casts to float32 itself); off by default.
    """

    def __init__(
        self,
        model,
        name: str,
        description: str = "",
        device: str = "cpu",
        window: int | None = None,
        overlap: int | None = None,
        mixed_precision: bool = False,
    ):
        from napari_dynmri.recon import windowed

        self.model = model
        self.name = name
        self.description = description or f"network {name}"
        self.device = device
        self.window = windowed.DEFAULT_WINDOW if window is None else int(window)
        self.overlap = windowed.DEFAULT_OVERLAP if overlap is None else int(overlap)
        windowed.check_window(self.window, self.overlap)
        self.mixed_precision = bool(mixed_precision) and device.startswith("cuda")

    def _run_window(self, kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        k = torch.from_numpy(np.ascontiguousarray(kspace)).to(self.device)[None]
        m = torch.from_numpy(np.ascontiguousarray(mask)).to(self.device)[None]
        zero_filled = ifft2c(k)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.mixed_precision):
            out = self.model(zero_filled, k, m)
        return out[0].to(torch.complex64).cpu().numpy()

    def reconstruct(self, kspace, mask, *, progress=None, should_stop=None):
        import torch

        from napari_dynmri.recon.windowed import windowed_apply

        kspace, mask = check_recon_inputs(kspace, mask)
        kspace = kspace * mask
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                return windowed_apply(
                    self._run_window,
                    kspace,
                    mask,
                    window=self.window,
                    overlap=self.overlap,
                    progress=progress,
                    should_stop=should_stop,
                )
        finally:
            self.model.train(was_training)


def _network_name(spec: str) -> str:
    """A shipped model's name, or the folder name of a checkpoint path (folder or a file in it)."""
    path = Path(spec)
    if not path.exists():
        return spec
    return (path.parent if path.is_file() else path).resolve().name


def get_method(spec: str | Path, device: str = "auto", **options) -> ReconMethod:
    """The reconstruction method ``spec`` names, ready to run.

    Parameters
    ----------
    spec : ``"zero-filled"``, ``"view-sharing"``, ``"cs-ttv"``, a shipped model name or a checkpoint path.
    device : ``"auto"`` (a GPU when there is one), ``"cpu"``, ``"cuda"`` or ``"mps"``; zero filling
        always runs on the CPU with numpy.
    options : method options: ``half_window`` for ``view-sharing``; ``lam``, ``iterations`` for
        ``cs-ttv``; ``window``, ``overlap``,
        ``mixed_precision`` for networks. ``None`` values mean the default. Unknown options raise
        ``ValueError``.
    """
    spec = str(spec)
    options = {key: value for key, value in options.items() if value is not None}
    allowed = {
        ZERO_FILLED: (),
        VIEW_SHARING: ("half_window",),
        CS_TTV: ("lam", "iterations"),
    }.get(spec, ("window", "overlap", "mixed_precision"))
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"method {spec!r} has no option(s) {', '.join(unknown)}; "
            f"it takes {', '.join(allowed) if allowed else 'none'}"
        )
    if spec == ZERO_FILLED:
        return ZeroFilled()
    if spec == VIEW_SHARING:
        return ViewSharing(**options)

    from napari_dynmri.models import select_device

    torch_device = str(select_device(device))
    if spec == CS_TTV:
        return TemporalTVMethod(device=torch_device, **options)

    from napari_dynmri.models.pretrained import resolve_model

    model, card = resolve_model(spec, torch_device)
    return NetworkMethod(
        model,
        name=_network_name(spec),
        description=str(card.get("description") or ""),
        device=torch_device,
        **options,
    )
