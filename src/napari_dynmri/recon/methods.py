"""One interface for every reconstruction method: zero filling, compressed sensing, networks.

Every method is a :class:`ReconMethod` made by :func:`get_method` from a spec string:

``"zero-filled"``
    ``ifft2c(kspace)``.
``"view-sharing"``
    k-t sliding-window view sharing (:mod:`napari_dynmri.physics.view_sharing`); option ``half_window``.
``"cs-ttv"``, ``"cs-xf"``, ``"cs-lps"``
    compressed sensing with temporal TV (:mod:`napari_dynmri.recon.cs`), x-f sparsity or low rank
    plus sparse (:mod:`napari_dynmri.recon.sparse`), solved by :mod:`napari_dynmri.solvers`; options
    ``lam`` (a number, or ``"auto"``, the default: cross-validated per scan,
    :mod:`napari_dynmri.recon.weight`), ``iterations``, ``lam_lowrank`` for ``cs-lps``, and
    ``uncertainty`` (also make the trust map, :mod:`napari_dynmri.recon.trust`).
``"cs-auto"``
    the default: the method (those three or view sharing) and weight whose reconstructions best
    predict held-out lines of the scan, chosen jointly by K-fold cross-validation; options
    ``iterations``, ``uncertainty``, ``network`` (a refining network it also weighs on the held-out
    lines, :mod:`napari_dynmri.recon.safeguard`; ``"none"`` for none).
anything else
    a network: a shipped model name or a checkpoint path, loaded by
    ``napari_dynmri.models.pretrained.resolve_model``; options ``window``, ``overlap``
    (see :mod:`napari_dynmri.recon.windowed`), ``mixed_precision``, ``adapt`` and
    ``adapt_iterations`` (scan-specific self-supervised fine-tuning, :mod:`napari_dynmri.recon.adapt`).

Each method class declares its options (``options``, a tuple of
:class:`~napari_dynmri.recon.options.Option`; networks share ``NetworkMethod.options``), and
:mod:`napari_dynmri.recon.options` collects them: :func:`get_method` checks the options it is given
against them, and ``dynmri recon`` and the Reconstruct widget build their flags and controls from them.

``method.reconstruct(kspace, mask)`` takes complex ``(T, H, W)`` k-space (zero where not sampled)
and a bool ``(T, H, W)`` mask and returns a :class:`~napari_dynmri.recon.result.Reconstruction`: the
complex64 ``(T, H, W)`` image with the settings the method chose, its wall time and device (and the
trust map when asked for); a method keeps nothing of a run. The CLI, the napari widgets and the
benchmarks all go through :func:`get_method`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_dynmri.physics.fft import ifft2c
from napari_dynmri.physics.view_sharing import DEFAULT_HALF_WINDOW, view_share
from napari_dynmri.recon import cs, sparse
from napari_dynmri.recon.base import ReconCancelled, ReconMethod, check_multicoil_inputs, check_recon_inputs
from napari_dynmri.recon.network import NetworkMethod
from napari_dynmri.recon.options import AUTO, Option, check_options
from napari_dynmri.recon.safeguard import check_network
from napari_dynmri.recon.trust import fold_spread
from napari_dynmri.recon.weight import CrossValidation, cross_validate

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
# the refining network that cs-auto weighs against its classical choice on the held-out lines
# (docs/benchmarks.md, "Refining network")
DEFAULT_REFINER = "dynmri-refine"
# device names get_method accepts (checked for every method, also those that compute with numpy)
DEVICE_KINDS = ("auto", "cpu", "cuda", "mps")


UNCERTAINTY = Option("uncertainty", bool, False,
                     "also make the trust map, the per-pixel spread of the reconstructions of the "
                     "cross-validation folds (one extra solve per fold)")


class OneStepMethod(ReconMethod):
    """A method computed in one step from k-space and mask: cancellable before, one progress tick after."""

    options: tuple[Option, ...] = ()

    def image(self, kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """complex64 ``(T, H, W)`` k-space (zero where not sampled), bool mask -> complex ``(T, H, W)`` image."""
        raise NotImplementedError

    def compute(self, kspace, mask, progress=None, should_stop=None, maps=None):
        if maps is None:
            kspace, mask = check_recon_inputs(kspace, mask)
        else:
            kspace, mask, maps = check_multicoil_inputs(kspace, mask, maps)
        if should_stop is not None and should_stop():
            raise ReconCancelled("the reconstruction was cancelled")
        image = self.image(kspace * mask, mask)
        if maps is not None:  # per-coil images (C, T, H, W), combined with the maps (SENSE-1)
            image = (image * maps[:, None].conj()).sum(axis=0)
        if progress is not None:
            progress(1, 1)
        return image.astype(np.complex64), {}, None


class ZeroFilled(OneStepMethod):
    """The inverse FFT of the zero-filled k-space."""

    name = ZERO_FILLED
    description = "inverse FFT of the measured k-space, zeros elsewhere"

    def image(self, kspace, mask):
        return ifft2c(kspace)


class ViewSharing(OneStepMethod):
    """Each frame's missing lines filled from neighbouring frames, see :func:`napari_dynmri.physics.view_share`.

    Also a candidate of ``cs-auto``'s cross-validated choice (:meth:`predict`; no weight to tune).
    """

    name = VIEW_SHARING
    tunable = False
    options = (Option("half_window", int, DEFAULT_HALF_WINDOW,
                      "frames shared from either side of each frame", low=0),)

    def __init__(self, half_window: int | None = None):
        self.half_window = DEFAULT_HALF_WINDOW if half_window is None else int(half_window)
        self.description = f"k-t view sharing over {2 * self.half_window + 1} frames"

    def image(self, kspace, mask):
        return ifft2c(view_share(kspace, mask, self.half_window))

    def predict(self, problem, factors, iterations=None, should_stop=None):
        """The view-shared images of a batch of :class:`~napari_dynmri.solvers.KtProblem` (layout, torch)."""
        mask = problem.mask.expand(problem.y.shape)
        return problem.combine(view_share(problem.y, mask, self.half_window))


class CompressedSensingMethod(ReconMethod):
    """Base of the compressed-sensing methods: a solver of :mod:`napari_dynmri.solvers` with regularisation weight(s).

    By default the weights are chosen per scan by cross-validation on the measured lines
    (:mod:`napari_dynmri.recon.weight`): the method's default weights times the factor whose
    reconstructions predict held-out lines best. A given ``lam`` fixes the weight instead. The
    ``settings`` of a :meth:`reconstruct` hold the weights used, how they were chosen and, when
    cross-validated, every candidate's score. ``uncertainty=True`` also makes the trust map
    (:mod:`napari_dynmri.recon.trust`), the result's ``uncertainty``.

    Subclasses set ``name``, ``label``, ``algorithm`` (the name of a class of
    :mod:`napari_dynmri.solvers.algorithms` taking ``(problem, **weights)``), ``default_weights`` (name -> default, ``lam`` first) and
    ``default_iterations``; their ``options`` follow from these. The values are checked by
    :func:`get_method` against those options.
    """

    label: str = ""
    algorithm: str
    default_weights: dict[str, float] = {}
    default_iterations: int = 100
    tunable = True
    options: tuple[Option, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.options = (
            *(Option(key, float, value, f"regularisation weight {key}, relative to max |zero-filled|", low=0.0,
                     auto=key == "lam")
              for key, value in cls.default_weights.items()),
            Option("iterations", int, cls.default_iterations, "solver iterations", low=1),
            UNCERTAINTY,
        )

    def __init__(self, lam: float | str | None = None, iterations: int | None = None, device: str = "cpu",
                 uncertainty: bool = False, cross_validation: CrossValidation | None = None, **weights):
        unknown = sorted(set(weights) - set(self.default_weights))
        if unknown:
            raise ValueError(f"method {self.name!r} has no option(s) {', '.join(unknown)}")
        self.automatic = lam is None or lam == AUTO
        self.weights = dict(self.default_weights)
        if not self.automatic:
            weights["lam"] = lam
        self.weights.update({key: float(value) for key, value in weights.items()})
        self.iterations = self.default_iterations if iterations is None else int(iterations)
        self.device = device
        self.want_uncertainty = bool(uncertainty)
        self.cross_validation = cross_validation or CrossValidation()
        how = "cross-validated weight" if self.automatic else ", ".join(f"{k} {v:g}" for k, v in self.weights.items())
        self.description = f"compressed sensing, {self.label} ({how}, {self.iterations} iterations)"

    def settings_summary(self, settings: dict) -> str:
        if not settings:
            return ""
        weights = ", ".join(f"{key} {settings[key]:g}" for key in self.default_weights)
        return f"{weights}, {settings['weight']}"

    @property
    def lam(self) -> float | str:
        """The fixed weight ``lam``, or ``"auto"`` when it is chosen per scan."""
        return AUTO if self.automatic else self.weights["lam"]

    def predict(self, problem, factors, iterations=None, should_stop=None, progress=None):
        """Solve a (batch of) :class:`~napari_dynmri.solvers.KtProblem` with the weights times ``factors``.

        ``factors``: a float, or one per problem of the batch. Returns the normalised layout image(s), torch.
        """
        from napari_dynmri.solvers import algorithms
        from napari_dynmri.solvers.loop import run

        scaled = {key: value * np.asarray(factors, dtype=np.float64) for key, value in self.weights.items()}
        solver = getattr(algorithms, self.algorithm)(problem, **scaled)
        image, _ = run(solver, iterations or self.iterations, progress, should_stop)
        return image

    def solve(self, kspace, mask, factor: float = 1.0, progress=None, should_stop=None, maps=None) -> np.ndarray:
        """complex ``(T, H, W)`` k-space (or ``(C, T, H, W)`` with coil ``maps``) and bool mask -> complex64
        image, with the weights times ``factor``."""
        import torch

        from napari_dynmri.solvers.operator import KtProblem

        with torch.inference_mode():
            problem = KtProblem.from_kspace(kspace, mask, device=self.device, maps=maps)
            return problem.image(self.predict(problem, factor, None, should_stop, progress))

    def compute(self, kspace, mask, progress=None, should_stop=None, maps=None):
        if maps is None:
            kspace, mask = check_recon_inputs(kspace, mask)
        else:
            kspace, mask, maps = check_multicoil_inputs(kspace, mask, maps)
        factor, weight, selection = 1.0, "fixed", None
        reporter = _Stages(progress, self.iterations)
        if self.automatic:
            selection = cross_validate(kspace, mask, [self], self.cross_validation, device=self.device,
                                       progress=reporter.selection, should_stop=should_stop, maps=maps)
            factor = selection.factor
            weight = "cross-validated" if selection.family else "default (no lines to hold out)"
        image = self.solve(kspace, mask, factor, reporter.final, should_stop, maps)
        uncertainty = (fold_spread(self, kspace, mask, factor, self.cross_validation, self.device, should_stop,
                                   maps) if self.want_uncertainty else None)
        settings = {
            **{key: float(f"{value * factor:.4g}") for key, value in self.weights.items()},
            "weight": weight,
            "iterations": self.iterations,
        }
        if selection is not None and selection.family:
            settings["cross_validation"] = selection.summary()
        return image, settings, uncertainty


class TemporalTVMethod(CompressedSensingMethod):
    """Temporal total-variation compressed sensing, see :mod:`napari_dynmri.recon.cs`."""

    name = CS_TTV
    label = "temporal total variation"
    algorithm = "TemporalTV"
    default_weights = {"lam": cs.DEFAULT_LAM}
    default_iterations = cs.DEFAULT_ITERATIONS


class XFSparsityMethod(CompressedSensingMethod):
    """x-f sparsity compressed sensing, see :mod:`napari_dynmri.recon.sparse`."""

    name = CS_XF
    label = "x-f sparsity"
    algorithm = "XfSparsity"
    default_weights = {"lam": sparse.XF_DEFAULT_LAM}
    default_iterations = sparse.DEFAULT_ITERATIONS


class LowRankSparseMethod(CompressedSensingMethod):
    """Low-rank plus sparse compressed sensing, see :mod:`napari_dynmri.recon.sparse`."""

    name = CS_LPS
    label = "low rank plus x-f sparse"
    algorithm = "LowRankSparse"
    default_weights = {"lam": sparse.LPS_DEFAULT_LAM, "lam_lowrank": sparse.LPS_DEFAULT_LAM_LOWRANK}
    default_iterations = sparse.DEFAULT_ITERATIONS


CS_METHODS = {method.name: method for method in (XFSparsityMethod, LowRankSparseMethod, TemporalTVMethod)}


class _Stages:
    """Progress of a selection (candidate-fold solves) followed by a final solve (iterations), as one count."""

    def __init__(self, progress, iterations: int):
        self.progress, self.iterations, self.selected = progress, iterations, 0

    def selection(self, done, total):
        self.selected = total
        if self.progress is not None:
            self.progress(done, total + self.iterations)

    def final(self, done, _iterations):
        if self.progress is not None:
            self.progress(self.selected + done, self.selected + self.iterations)


class AutoCompressedSensing(ReconMethod):
    """The method and weight chosen per scan: cs-xf, cs-lps and cs-ttv over a grid of weights, and view
    sharing, scored jointly by cross-validation on the measured lines (:mod:`napari_dynmri.recon.weight`);
    the best reconstructs the cine from all lines.

    No single classical prior wins on every anatomy (x-f sparsity on some cines, temporal TV or
    low rank plus sparse on others), nor one weight; the held-out lines of the scan itself tell which
    suits it. The ``settings`` of a :meth:`reconstruct` name the chosen method and weight and hold every
    candidate's score. ``uncertainty=True`` also makes the trust map (:mod:`napari_dynmri.recon.trust`),
    the result's ``uncertainty``.

    ``network``: a refining :class:`~napari_dynmri.recon.network.NetworkMethod` (or None), one more
    candidate: it refines the chosen reconstruction only when the scan's held-out lines prefer it
    (:mod:`napari_dynmri.recon.safeguard`); the result's ``settings["network"]`` records the comparison.
    On coil data the network's data consistency is the SENSE step.
    """

    name = CS_AUTO
    options = (
        Option("iterations", int, CS_METHODS[CS_XF].default_iterations,
               "solver iterations of every candidate method", low=1),
        UNCERTAINTY,
        Option("network", str, DEFAULT_REFINER,
               "a refining network weighed against the classical choice on the held-out lines, used only where "
               "they prefer it (a shipped name or a checkpoint path; 'none' for none; default: the shipped "
               "refiner when there is one, see 'dynmri models')"),
    )

    def __init__(self, iterations: int | None = None, device: str = "cpu", uncertainty: bool = False,
                 cross_validation: CrossValidation | None = None, network: NetworkMethod | None = None):
        if network is not None and not network.refines:
            raise ValueError(f"network {network.name!r} does not refine a classical start (init = 'given'); "
                             "cs-auto can only weigh such a network against its choice")
        self.network = network
        self.cross_validation = cross_validation or CrossValidation()
        self.candidates = {
            name: method(iterations=iterations, device=device, cross_validation=self.cross_validation)
            for name, method in CS_METHODS.items()
        }
        self.candidates[VIEW_SHARING] = ViewSharing()
        self.device = device
        self.iterations = self.candidates[CS_XF].iterations
        self.want_uncertainty = bool(uncertainty)
        self.description = (
            f"{', '.join(self.candidates)} and their weights chosen per scan by cross-validation "
            f"on the measured lines ({self.iterations} iterations)"
        )

    def settings_summary(self, settings: dict) -> str:
        if not settings:
            return ""
        summary = settings["method"]
        if "lam" in settings:
            summary += f", lam {settings['lam']:g}"
        if settings.get("network", {}).get("chosen"):
            summary += f", refined by {settings['network']['name']}"
        return summary

    def compute(self, kspace, mask, progress=None, should_stop=None, maps=None):
        if maps is None:
            kspace, mask = check_recon_inputs(kspace, mask)
        else:
            kspace, mask, maps = check_multicoil_inputs(kspace, mask, maps)
        reporter = _Stages(progress, self.iterations)
        selection = cross_validate(kspace, mask, list(self.candidates.values()), self.cross_validation, device=self.device,
                                   progress=reporter.selection, should_stop=should_stop, maps=maps)
        chosen = self.candidates[selection.family or DEFAULT_CS_FALLBACK]
        factor = selection.factor
        if chosen.tunable:
            image = chosen.solve(kspace, mask, factor, reporter.final, should_stop, maps)
            weights = {key: float(f"{value * factor:.4g}") for key, value in chosen.weights.items()}
        else:
            image = chosen.reconstruct(np.moveaxis(kspace, 0, 1) if maps is not None else kspace, mask,
                                       progress=reporter.final, should_stop=should_stop, maps=maps).image
            weights = {}
        uncertainty = (fold_spread(chosen, kspace, mask, factor, self.cross_validation, self.device,
                                   should_stop, maps) if self.want_uncertainty else None)
        settings = {
            "method": chosen.name,
            **weights,
            "choice": "cross-validation" if selection.family else "default (no lines to hold out)",
            "iterations": self.iterations,
        }
        if selection.family:
            settings["cross_validation"] = selection.summary()
        if self.network is not None and selection.family:
            check = check_network(self.network, chosen, factor, kspace, mask, self.cross_validation, self.device,
                                  should_stop, maps)
            if check is not None:
                settings["network"] = check.summary()
                if check.chosen:
                    image = self.network.refine(kspace if maps is None else np.moveaxis(kspace, 0, 1), mask, image,
                                                should_stop=should_stop, maps=maps)
        return image, settings, uncertainty


# the options of every network (NetworkMethod), whatever its spec
# the built-in methods by name; any other spec names a network
METHOD_CLASSES = {method.name: method for method in (ZeroFilled, ViewSharing, *CS_METHODS.values(),
                                                      AutoCompressedSensing)}


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
        options: the method's options, as its class declares them (``options``; see
            :mod:`napari_dynmri.recon.options`): ``half_window`` for ``view-sharing``; ``lam``, ``iterations``
            for the CS methods and ``lam_lowrank`` for ``cs-lps``; ``iterations`` for ``cs-auto``;
            ``uncertainty`` (make the trust map, :mod:`napari_dynmri.recon.trust`) for both; ``network``
            (a refining network's name or path, or ``"none"``) for ``cs-auto``; ``window``,
            ``overlap``, ``mixed_precision``, ``adapt``, ``adapt_iterations`` for networks. ``None``
            values mean the default. An option the method does not take or a value it refuses, an
            empty ``spec`` and an unknown device raise ``ValueError``.
    """
    spec = str(spec)
    if not spec.strip():
        raise ValueError("no reconstruction method given (an empty --model)")
    if not isinstance(device, str) or device.split(":", 1)[0] not in DEVICE_KINDS:
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICE_KINDS)}")
    options = check_options(spec, METHOD_CLASSES[spec].options if spec in METHOD_CLASSES else NetworkMethod.options,
                            options)
    if spec == ZERO_FILLED:
        return ZeroFilled()
    if spec == VIEW_SHARING:
        return ViewSharing(**options)

    from napari_dynmri.models import select_device

    torch_device = str(select_device(device))
    if spec in CS_METHODS:
        return CS_METHODS[spec](device=torch_device, **options)
    if spec == CS_AUTO:
        network = options.pop("network", DEFAULT_REFINER)
        if network and network != "none":
            options["network"] = _network(network, torch_device, {})
        return AutoCompressedSensing(device=torch_device, **options)
    return _network(spec, torch_device, options)


def _network(spec: str, device: str, options: dict) -> NetworkMethod:
    """The network ``spec`` (a shipped name or a checkpoint path) as a method; a refining one starts from cs-auto."""
    from napari_dynmri.models.pretrained import resolve_model

    model, card = resolve_model(spec, device)
    refines = model.config.get("init") == "given"
    return NetworkMethod(
        model,
        name=_network_name(spec),
        description=str(card.get("description") or ""),
        device=device,
        start=AutoCompressedSensing(device=device) if refines else None,
        **options,
    )
