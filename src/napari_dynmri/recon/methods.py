"""One interface for every reconstruction method: zero filling, compressed sensing, networks.

Every method is a :class:`ReconMethod` made by :func:`get_method` from a spec string:

``"zero-filled"``
    ``ifft2c(kspace)``.
``"view-sharing"``
    k-t sliding-window view sharing (:mod:`napari_dynmri.physics.view_sharing`); option ``half_window``.
``"cs-ttv"``, ``"cs-xf"``, ``"cs-lps"``
    compressed sensing with temporal TV (:mod:`napari_dynmri.recon.cs`), x-f sparsity or low rank
    plus sparse (:mod:`napari_dynmri.recon.sparse`); options ``lam`` (a number, or ``"auto"``, the
    default: chosen per scan, :mod:`napari_dynmri.recon.weight`), ``iterations``, and
    ``lam_lowrank`` for ``cs-lps``.
``"cs-auto"``
    whichever of those three predicts held-out lines of the scan best; option ``iterations``.
anything else
    a network: a shipped model name or a checkpoint path, loaded by
    ``napari_dynmri.models.pretrained.resolve_model``; options ``window``, ``overlap``
    (see :mod:`napari_dynmri.recon.windowed`), ``mixed_precision``, ``adapt`` and
    ``adapt_iterations`` (scan-specific self-supervised fine-tuning, :mod:`napari_dynmri.recon.adapt`).

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
from napari_dynmri.recon import cs, sparse
from napari_dynmri.recon.base import Progress, ReconCancelled, ShouldStop, check_recon_inputs

ZERO_FILLED = "zero-filled"
VIEW_SHARING = "view-sharing"
CS_TTV = "cs-ttv"
CS_XF = "cs-xf"
CS_LPS = "cs-lps"
CS_AUTO = "cs-auto"
# cs-auto's method when a mask has no lines to hold out
DEFAULT_CS_FALLBACK = CS_XF
BUILTIN_METHODS = (ZERO_FILLED, VIEW_SHARING, CS_TTV, CS_XF, CS_LPS, CS_AUTO)
# What `dynmri recon`, the demo and the Reconstruct widget use unless told otherwise: the best
# method of benchmarks/generalisation.py at R = 8 (docs/benchmarks.md).
DEFAULT_METHOD = CS_AUTO
# device names get_method accepts (checked for every method, also those that compute with numpy)
DEVICE_KINDS = ("auto", "cpu", "cuda", "mps")


class ReconMethod:
    """Base class of reconstruction methods.

    Attributes: ``name`` (what the CLI and tables call it), ``description`` (one line),
    ``device`` (where it computes: ``"cpu"``, ``"cuda"``, ``"mps"``) and ``settings`` (a
    JSON-ready dict of what the last :meth:`reconstruct` chose for itself, e.g. an automatic
    regularisation weight; empty for methods that choose nothing).
    """

    name: str = ""
    description: str = ""
    device: str = "cpu"
    settings: dict = {}

    def settings_summary(self) -> str:
        """``settings`` in a few words for a status line (empty when there are none)."""
        return ""

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


AUTO = "auto"


class CompressedSensingMethod(ReconMethod):
    """Base of the compressed-sensing methods: an iterative solver with regularisation weight(s).

    By default the weights are chosen per scan on held-out lines (:mod:`napari_dynmri.recon.weight`):
    the method's default weights times the best of ``weight.DEFAULT_FACTORS``. A given ``lam``
    fixes the weight instead. After :meth:`reconstruct`, ``settings`` holds the weights used,
    whether they were chosen automatically, and the held-out error of each candidate factor.

    Subclasses set ``name``, ``label``, ``solver`` (``solver(kspace, mask, iterations=, progress=,
    should_stop=, device=, **weights)``), ``default_weights`` (name -> default, ``lam`` first) and
    ``default_iterations``.
    """

    label: str = ""
    solver: Callable[..., np.ndarray]
    default_weights: dict[str, float] = {}
    default_iterations: int = 100

    def __init__(self, lam: float | str | None = None, iterations: int | None = None, device: str = "cpu",
                 **weights):
        unknown = sorted(set(weights) - set(self.default_weights))
        if unknown:
            raise ValueError(f"method {self.name!r} has no option(s) {', '.join(unknown)}")
        self.automatic = lam is None or (isinstance(lam, str) and lam.strip().lower() == AUTO)
        self.weights = dict(self.default_weights)
        if not self.automatic:
            weights["lam"] = lam
        for key, value in weights.items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{key} must be a number or {AUTO!r}, got {value!r}") from None
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{key} must be a finite number >= 0, got {value}")
            self.weights[key] = value
        self.iterations = self.default_iterations if iterations is None else int(iterations)
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        self.device = device
        self.settings: dict = {}
        how = "automatic weight" if self.automatic else ", ".join(f"{k} {v:g}" for k, v in self.weights.items())
        self.description = f"compressed sensing, {self.label} ({how}, {self.iterations} iterations)"

    def settings_summary(self) -> str:
        if not self.settings:
            return ""
        weights = ", ".join(f"{key} {self.settings[key]:g}" for key in self.default_weights)
        return f"{weights}, {self.settings['weight']}"

    @property
    def lam(self) -> float | str:
        """The fixed weight ``lam``, or ``"auto"`` when it is chosen per scan."""
        return AUTO if self.automatic else self.weights["lam"]

    def solve(self, kspace, mask, weights: dict[str, float], iterations: int, progress=None, should_stop=None):
        """Run ``solver`` with ``weights`` (the ``default_weights`` keys); complex64 ``(T, H, W)``."""
        return self.solver(kspace, mask, iterations=iterations, progress=progress, should_stop=should_stop,
                           device=self.device, **weights)

    def reconstruct(self, kspace, mask, *, progress=None, should_stop=None):
        from napari_dynmri.recon.weight import DEFAULT_FACTORS, select_on_held_out

        kspace, mask = check_recon_inputs(kspace, mask)
        weights, errors = dict(self.weights), {}
        selection = len(DEFAULT_FACTORS) * self.iterations if self.automatic else 0
        total = selection + self.iterations
        if self.automatic:

            def solve_scaled(k, m, factor):
                scaled = {key: value * factor for key, value in self.weights.items()}
                return self.solve(k, m, scaled, self.iterations, should_stop=should_stop)

            def selection_progress(done, _count):
                if progress is not None:
                    progress(done * self.iterations, total)

            choice = select_on_held_out(solve_scaled, kspace, mask, should_stop=should_stop,
                                        progress=selection_progress)
            if choice.best is not None:
                weights = {key: value * choice.best for key, value in weights.items()}
            errors = {f"{factor:.4g}": error for factor, error in choice.errors.items()}

        def final_progress(done, _iterations):
            if progress is not None:
                progress(selection + done, total)

        image = self.solve(kspace, mask, weights, self.iterations, final_progress, should_stop)
        self.settings = {
            **{key: float(f"{value:.4g}") for key, value in weights.items()},
            "weight": ("automatic" if errors else "default (no lines to hold out)") if self.automatic else "fixed",
            "iterations": self.iterations,
        }
        if errors:
            self.settings["holdout_error"] = errors
        return image


class TemporalTVMethod(CompressedSensingMethod):
    """Temporal total-variation compressed sensing, see :func:`napari_dynmri.recon.cs.ttv_reconstruct`."""

    name = CS_TTV
    label = "temporal total variation"
    solver = staticmethod(cs.ttv_reconstruct)
    default_weights = {"lam": cs.DEFAULT_LAM}
    default_iterations = cs.DEFAULT_ITERATIONS


class XFSparsityMethod(CompressedSensingMethod):
    """x-f sparsity compressed sensing, see :func:`napari_dynmri.recon.sparse.xf_reconstruct`."""

    name = CS_XF
    label = "x-f sparsity"
    solver = staticmethod(sparse.xf_reconstruct)
    default_weights = {"lam": sparse.XF_DEFAULT_LAM}
    default_iterations = sparse.DEFAULT_ITERATIONS


class LowRankSparseMethod(CompressedSensingMethod):
    """Low-rank plus sparse compressed sensing, see :func:`napari_dynmri.recon.sparse.lps_decompose`."""

    name = CS_LPS
    label = "low rank plus x-f sparse"
    solver = staticmethod(sparse.lps_reconstruct)
    default_weights = {"lam": sparse.LPS_DEFAULT_LAM, "lam_lowrank": sparse.LPS_DEFAULT_LAM_LOWRANK}
    default_iterations = sparse.DEFAULT_ITERATIONS


CS_METHODS = {method.name: method for method in (TemporalTVMethod, XFSparsityMethod, LowRankSparseMethod)}


class AutoCompressedSensing(ReconMethod):
    """The CS method chosen per scan: each of ``CS_METHODS`` (default weights) reconstructs the cine
    without its held-out lines, and the one that predicts them best reconstructs it from all lines.

    No single classical prior wins on every anatomy (x-f sparsity on some cines, temporal TV or
    low rank plus sparse on others); the held-out lines of the scan itself tell which suits it.
    ``settings`` names the chosen method and holds each candidate's held-out error.
    """

    name = CS_AUTO

    def __init__(self, iterations: int | None = None, device: str = "cpu"):
        self.candidates = {
            name: method(lam=method.default_weights["lam"], iterations=iterations, device=device)
            for name, method in CS_METHODS.items()
        }
        self.device = device
        self.iterations = next(iter(self.candidates.values())).iterations
        self.settings: dict = {}
        self.description = (
            f"compressed sensing, {', '.join(self.candidates)} chosen per scan on held-out lines "
            f"({self.iterations} iterations)"
        )

    def settings_summary(self) -> str:
        if not self.settings:
            return ""
        return f"{self.settings['method']}, lam {self.settings['lam']:g}"

    def reconstruct(self, kspace, mask, *, progress=None, should_stop=None):
        from napari_dynmri.recon.weight import select_on_held_out

        kspace, mask = check_recon_inputs(kspace, mask)
        count = len(self.candidates)
        total = (count + 1) * self.iterations

        def solve(k, m, name):
            return self.candidates[name].reconstruct(k, m, should_stop=should_stop)

        def selection_progress(done, _count):
            if progress is not None:
                progress(done * self.iterations, total)

        def final_progress(done, steps):
            if progress is not None:
                progress(count * self.iterations + round(done * self.iterations / max(steps, 1)), total)

        choice = select_on_held_out(solve, kspace, mask, list(self.candidates), should_stop=should_stop,
                                    progress=selection_progress)
        chosen = self.candidates[choice.best if choice.best is not None else DEFAULT_CS_FALLBACK]
        image = chosen.reconstruct(kspace, mask, progress=final_progress, should_stop=should_stop)
        self.settings = {
            "method": chosen.name,
            **chosen.settings,
            "choice": "held-out lines" if choice.errors else "default (no lines to hold out)",
        }
        if choice.errors:
            self.settings["holdout_error"] = choice.errors
        return image


class NetworkMethod(ReconMethod):
    """A trained network applied to overlapping time windows (see :mod:`napari_dynmri.recon.windowed`).

    ``model(zero_filled, kspace, mask)`` takes complex ``(B, T, H, W)`` tensors and a bool
    ``(B | 1, T, H, W)`` mask and returns complex ``(B, T, H, W)``. It runs under
    ``torch.inference_mode`` on ``device``. ``mixed_precision`` enables float16 autocast on CUDA
    (only for models whose FFT / data-consistency code casts to float32 itself); off by default.
    ``adapt`` first fine-tunes a copy of the network on the scan itself for up to
    ``adapt_iterations`` steps (:mod:`napari_dynmri.recon.adapt`); ``settings`` then records how
    it went. The network given is never changed.
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
        adapt: bool = False,
        adapt_iterations: int | None = None,
    ):
        from napari_dynmri.recon import adapt as adaptation
        from napari_dynmri.recon import windowed

        self.model = model
        self.name = name
        self.description = description or f"network {name}"
        self.device = device
        self.window = windowed.DEFAULT_WINDOW if window is None else int(window)
        self.overlap = windowed.DEFAULT_OVERLAP if overlap is None else int(overlap)
        windowed.check_window(self.window, self.overlap)
        self.mixed_precision = bool(mixed_precision) and device.startswith("cuda")
        self.adapt = bool(adapt)
        self.adapt_iterations = (
            adaptation.DEFAULT_ADAPT_ITERATIONS if adapt_iterations is None else int(adapt_iterations)
        )
        if self.adapt_iterations < 0:
            raise ValueError(f"adapt_iterations must be >= 0, got {self.adapt_iterations}")
        self.settings: dict = {}
        if self.adapt:
            self.description += f"; adapted to each scan (up to {self.adapt_iterations} self-supervised steps)"

    def _run_window(self, model, kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        k = torch.from_numpy(np.ascontiguousarray(kspace)).to(self.device)[None]
        m = torch.from_numpy(np.ascontiguousarray(mask)).to(self.device)[None]
        zero_filled = ifft2c(k)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.mixed_precision):
            out = model(zero_filled, k, m)
        return out[0].to(torch.complex64).cpu().numpy()

    def settings_summary(self) -> str:
        if not self.settings:
            return ""
        steps, best = self.settings["adapt_steps"], self.settings["adapt_best_step"]
        return f"adapted: {steps} steps, kept step {best}" if best else f"adapted: {steps} steps, kept the original"

    def reconstruct(self, kspace, mask, *, progress=None, should_stop=None):
        import torch

        from napari_dynmri.recon.adapt import adapt_model
        from napari_dynmri.recon.windowed import window_starts, windowed_apply

        kspace, mask = check_recon_inputs(kspace, mask)
        kspace = kspace * mask
        model, self.settings = self.model, {}
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
            model, self.settings = adaptation.model, adaptation.summary()
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                return windowed_apply(
                    lambda k, m: self._run_window(model, k, m),
                    kspace,
                    mask,
                    window=self.window,
                    overlap=self.overlap,
                    progress=window_progress,
                    should_stop=should_stop,
                )
        finally:
            model.train(was_training)


def _network_name(spec: str) -> str:
    """A shipped model's name, or the folder name of a checkpoint path (folder or a file in it)."""
    path = Path(spec)
    if not path.exists():
        return spec
    return (path.parent if path.is_file() else path).resolve().name


def get_method(spec: str | Path, device: str = "auto", **options) -> ReconMethod:
    """The reconstruction method ``spec`` names, ready to run.

    Args:
        spec: ``"zero-filled"``, ``"view-sharing"``, ``"cs-ttv"``, ``"cs-xf"``, ``"cs-lps"``,
            ``"cs-auto"``, a shipped model name or a checkpoint path.
        device: ``"auto"`` (a GPU when there is one), ``"cpu"``, ``"cuda"`` or ``"mps"``; zero filling
            always runs on the CPU with numpy.
        options: method options: ``half_window`` for ``view-sharing``; ``lam``, ``iterations`` for
            the CS methods and ``lam_lowrank`` for ``cs-lps``; ``iterations`` for ``cs-auto``; ``window``,
            ``overlap``, ``mixed_precision``, ``adapt``, ``adapt_iterations`` for networks. ``None``
            values mean the default. Unknown options, an empty ``spec`` and an unknown device raise
            ``ValueError``.
    """
    spec = str(spec)
    if not spec.strip():
        raise ValueError("no reconstruction method given (an empty --model)")
    if not isinstance(device, str) or device.split(":", 1)[0] not in DEVICE_KINDS:
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICE_KINDS)}")
    options = {key: value for key, value in options.items() if value is not None}
    allowed = {
        ZERO_FILLED: (),
        VIEW_SHARING: ("half_window",),
        **{name: (*method.default_weights, "iterations") for name, method in CS_METHODS.items()},
        CS_AUTO: ("iterations",),
    }.get(spec, ("window", "overlap", "mixed_precision", "adapt", "adapt_iterations"))
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
    if spec in CS_METHODS:
        return CS_METHODS[spec](device=torch_device, **options)
    if spec == CS_AUTO:
        return AutoCompressedSensing(device=torch_device, **options)

    from napari_dynmri.models.pretrained import resolve_model

    model, card = resolve_model(spec, torch_device)
    return NetworkMethod(
        model,
        name=_network_name(spec),
        description=str(card.get("description") or ""),
        device=torch_device,
        **options,
    )
