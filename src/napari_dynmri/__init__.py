"""napari-dynmri: dynamic (cine) MRI reconstruction, headless core and napari plugin.

The documented Python API (docs/api.md) is at the top level::

    import napari_dynmri as dm

    cine = dm.load_sample("phantom")                  # or dm.read_cine("scan.nii.gz")
    sim = dm.simulate(dm.cine_target(cine), acceleration=8, seed=0)
    result = dm.reconstruct(sim.kspace, sim.mask)      # the default method, weights chosen per scan
    scores = dm.evaluate(result.image, sim.target)     # {"psnr", "ssim", ...}

Importing the package is cheap: these names import numpy, torch or the readers only when first used.
The core (``physics``, ``io``, ``data``, ``metrics``, ``models``, ``losses``, ``training``,
``recon``) imports neither napari nor Qt; the plugin lives in ``_napari``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable

from napari_dynmri._version import __version__

if TYPE_CHECKING:
    from napari_dynmri.recon.result import Reconstruction

# name -> (module, attribute): imported on first use, so ``import napari_dynmri`` stays cheap
_LAZY = {
    "read_cine": ("napari_dynmri.io", "read_cine"),
    "write_cine": ("napari_dynmri.io", "write_cine"),
    "Cine": ("napari_dynmri.io", "Cine"),
    "load_sample": ("napari_dynmri.data.samples", "load_sample"),
    "cine_target": ("napari_dynmri.simulation", "cine_target"),
    "simulate": ("napari_dynmri.simulation", "simulate"),
    "Simulation": ("napari_dynmri.simulation", "Simulation"),
    "Acquisition": ("napari_dynmri.physics.acquisition", "Acquisition"),
    "Reconstruction": ("napari_dynmri.recon.result", "Reconstruction"),
    "evaluate": ("napari_dynmri.metrics", "evaluate"),
    "get_method": ("napari_dynmri.recon", "get_method"),
    "DEFAULT_METHOD": ("napari_dynmri.recon", "DEFAULT_METHOD"),
}

__all__ = ["__version__", "list_methods", "reconstruct", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'napari_dynmri' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def reconstruct(kspace, mask, method: str | None = None, *, device: str = "auto",
                progress: Callable[[int, int], None] | None = None,
                should_stop: Callable[[], bool] | None = None, **options) -> Reconstruction:
    """Reconstruct a cine from its undersampled k-space, as ``dynmri recon`` does.

    Args:
        kspace: complex ``(T, H, W)`` centred k-space (zeros where not sampled).
        mask: bool or 0/1 ``(T, H, W)`` sampling mask.
        method: ``"cs-auto"``, ``"cs-xf"``, ``"cs-lps"``, ``"cs-ttv"``, ``"view-sharing"``,
            ``"zero-filled"``, a shipped model name (``"dynmri-default"``) or a checkpoint path;
            None: the default method (``napari_dynmri.DEFAULT_METHOD``).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``; a device this machine lacks raises
            ``ValueError`` for every method.
        progress: called as ``progress(done, total)`` while it works.
        should_stop: polled while it works; returning True stops it with
            :class:`napari_dynmri.recon.ReconCancelled`.
        options: the method's options, declared in :mod:`napari_dynmri.recon.registry` (e.g. ``lam``,
            ``iterations`` for compressed sensing, ``lam`` cross-validated per scan unless given;
            ``uncertainty=True`` also makes the trust map; ``network`` for ``cs-auto``; ``half_window``
            for view sharing; ``window``, ``overlap``, ``adapt`` for networks). Unknown options and bad
            values raise ``ValueError``.

    Returns:
        A :class:`~napari_dynmri.recon.result.Reconstruction` (``image``, ``settings``, ``seconds``,
        ``device``, ``uncertainty``, ...; ``save(path)`` writes the ``dynmri recon`` npz).
    """
    from napari_dynmri.models.device import select_device
    from napari_dynmri.recon import DEFAULT_METHOD, get_method

    select_device(device)  # the same error for every method, zero filling included
    chosen = get_method(method or DEFAULT_METHOD, device=device, **options)
    return chosen.reconstruct(kspace, mask, progress=progress, should_stop=should_stop)


def list_methods() -> list[str]:
    """The names :func:`reconstruct` takes as ``method``: the default first, the built-in methods, the shipped models."""
    from napari_dynmri.models.pretrained import list_pretrained
    from napari_dynmri.recon import BUILTIN_METHODS, DEFAULT_METHOD

    names = [DEFAULT_METHOD, *BUILTIN_METHODS, *(entry["name"] for entry in list_pretrained())]
    return list(dict.fromkeys(names))
