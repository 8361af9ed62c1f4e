"""Trained networks as reconstruction methods: applied in time windows, optionally adapted to the scan,
or refining a classical start (the cascades with ``init="given"``)."""

from __future__ import annotations

import numpy as np

from napari_dynmri.physics.fft import ifft2c
from napari_dynmri.recon import windowed
from napari_dynmri.recon.adapt import DEFAULT_ADAPT_ITERATIONS
from napari_dynmri.recon.base import ReconMethod, check_multicoil_inputs, check_recon_inputs
from napari_dynmri.recon.options import Option


class NetworkMethod(ReconMethod):
    """A trained network applied to overlapping time windows (see :mod:`napari_dynmri.recon.windowed`).

    ``model(zero_filled, kspace, mask)`` takes complex ``(B, T, H, W)`` tensors and a bool
    ``(B | 1, T, H, W)`` mask and returns complex ``(B, T, H, W)``; on coil data it is called as
    ``model(zero_filled, kspace, mask, maps)`` with ``(B, T, C, H, W)`` k-space and ``(C, H, W)`` maps. It runs under
    ``torch.inference_mode`` on ``device``. ``mixed_precision`` enables float16 autocast on CUDA
    (only for models whose FFT / data-consistency code casts to float32 itself); off by default.
    ``adapt`` first fine-tunes a copy of the network on the scan itself for up to
    ``adapt_iterations`` steps (:mod:`napari_dynmri.recon.adapt`); the result's ``settings`` then
    record how it went. The network given is never changed.

    A network that refines a classical start (a cascade with ``init="given"``, :attr:`refines`) gets
    its first image from ``start``, a classical method (:func:`~napari_dynmri.recon.get_method` gives
    it cs-auto, whose choice it refines); the result's ``settings["start"]`` records that method's settings.
    """

    # the options every network takes (napari_dynmri.recon.options)
    options = (
        Option("window", int, windowed.DEFAULT_WINDOW, "frames per time window the network is applied to", low=1),
        Option("overlap", int, windowed.DEFAULT_OVERLAP, "frames neighbouring windows share (less than the window)",
               low=0),
        Option("mixed_precision", bool, False, "float16 autocast on CUDA (only for models that allow it)"),
        Option("adapt", bool, False, "fine-tune the network on this scan's own k-space first (self-supervised, "
               "held-out lines stop it; see docs/benchmarks.md for what it brings and costs)"),
        Option("adapt_iterations", int, DEFAULT_ADAPT_ITERATIONS, "at most this many adaptation steps", low=0,
               needs="adapt"),
    )
    def __init__(
        self,
        model,
        name: str,
        description: str = "",
        device: str = "cpu",
        window: int | None = None,
        overlap: int | None = None,
        mixed_precision: bool = False,
        adapt: bool = False,
        adapt_iterations: int | None = None,
        start: ReconMethod | None = None,
    ):
        self.model = model
        self.name = name
        self.description = description or f"network {name}"
        self.refines = getattr(model, "config", {}).get("init") == "given"
        if adapt and self.refines:
            raise ValueError(f"network {name!r} refines a classical start; scan adaptation is not available for it")
        if self.refines and start is None:
            raise ValueError(f"network {name!r} refines a classical start: give the method that makes it")
        self.start = start if self.refines else None
        self.device = device
        self.window = windowed.DEFAULT_WINDOW if window is None else int(window)
        self.overlap = windowed.DEFAULT_OVERLAP if overlap is None else int(overlap)
        windowed.check_window(self.window, self.overlap)
        self.mixed_precision = bool(mixed_precision) and device.startswith("cuda")
        self.adapt = bool(adapt)
        self.adapt_iterations = (
            DEFAULT_ADAPT_ITERATIONS if adapt_iterations is None else int(adapt_iterations)
        )
        if self.adapt_iterations < 0:
            raise ValueError(f"adapt_iterations must be >= 0, got {self.adapt_iterations}")
        if self.adapt:
            self.description += f"; adapted to each scan (up to {self.adapt_iterations} self-supervised steps)"

    def _run_window(self, model, kspace: np.ndarray, mask: np.ndarray, start: np.ndarray | None = None,
                    maps: np.ndarray | None = None) -> np.ndarray:
        import torch

        k = torch.from_numpy(np.ascontiguousarray(kspace)).to(self.device)[None]
        m = torch.from_numpy(np.ascontiguousarray(mask)).to(self.device)[None]
        coil_maps = None if maps is None else torch.from_numpy(np.ascontiguousarray(maps)).to(self.device)
        if start is not None:
            first = torch.from_numpy(np.ascontiguousarray(start)).to(self.device)[None]
        else:
            first = ifft2c(k) if maps is None else (ifft2c(k) * coil_maps.conj()).sum(-3)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.mixed_precision):
            out = model(first, k, m) if maps is None else model(first, k, m, coil_maps)
        return out[0].to(torch.complex64).cpu().numpy()

    def refine(self, kspace: np.ndarray, mask: np.ndarray, start: np.ndarray, progress=None,
               should_stop=None, maps: np.ndarray | None = None) -> np.ndarray:
        """The refining network on complex ``(T, H, W)`` ``kspace`` (masked), bool ``mask`` and the classical
        ``start`` image ``(T, H, W)``, in time windows: complex64 ``(T, H, W)``. With coil ``maps``
        ``(C, H, W)``, ``kspace`` is ``(T, C, H, W)`` and data consistency is the SENSE step."""
        import torch

        from napari_dynmri.recon.windowed import windowed_apply

        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                return windowed_apply(lambda k, m, x: self._run_window(self.model, k, m, x, maps), kspace, mask,
                                      window=self.window, overlap=self.overlap, progress=progress,
                                      should_stop=should_stop, image=start)
        finally:
            self.model.train(was_training)

    def settings_summary(self, settings: dict) -> str:
        if not settings:
            return ""
        if "start" in settings:
            return f"refining {self.start.settings_summary(settings['start']) or self.start.name}"
        steps, best = settings["adapt_steps"], settings["adapt_best_step"]
        return f"adapted: {steps} steps, kept step {best}" if best else f"adapted: {steps} steps, kept the original"

    def compute(self, kspace, mask, progress=None, should_stop=None, maps=None):
        import torch

        from napari_dynmri.recon.adapt import adapt_model

        if maps is not None and not self.refines:
            raise ValueError(f"network {self.name!r} takes single-coil k-space (only networks that refine a "
                             "classical start run on multi-coil data); use a compressed-sensing method or cs-auto")
        from napari_dynmri.recon.windowed import window_starts, windowed_apply

        if maps is None:
            kspace, mask = check_recon_inputs(kspace, mask)
            kspace = kspace * mask
        else:
            coil_first, mask, maps = check_multicoil_inputs(kspace, mask, maps)
            kspace = np.moveaxis(coil_first * mask, 0, 1)  # (T, C, H, W), as the windows take it
        if self.refines:
            start = self.start.reconstruct(kspace, mask, should_stop=should_stop, maps=maps)
            settings = {"start": {"method": self.start.name, **start.settings}}
            return self.refine(kspace, mask, start.image, progress, should_stop, maps), settings, None
        model, settings = self.model, {}
        adapt_steps = self.adapt_iterations if self.adapt else 0
        total = adapt_steps + len(window_starts(kspace.shape[0], self.window, self.overlap))

        def adapt_progress(done, _steps):
            if progress is not None:
                progress(done, total)

        def window_progress(done, _windows):
            if progress is not None:
                progress(adapt_steps + done, total)

        if self.adapt:
            adaptation = adapt_model(self.model, kspace, mask, self.adapt_iterations, window=self.window,
                                     device=self.device, progress=adapt_progress, should_stop=should_stop)
            model, settings = adaptation.model, adaptation.summary()
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                image = windowed_apply(lambda k, m: self._run_window(model, k, m), kspace, mask, window=self.window,
                                       overlap=self.overlap, progress=window_progress, should_stop=should_stop)
        finally:
            model.train(was_training)
        return image, settings, None
