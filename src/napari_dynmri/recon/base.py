"""What every reconstruction method shares: the input check, the cancel exception, the callback types and
:meth:`ReconMethod.reconstruct`, which times the method's :meth:`~ReconMethod.compute` and returns its
:class:`~napari_dynmri.recon.result.Reconstruction`."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from napari_dynmri.recon.result import Reconstruction
from napari_dynmri.solvers.loop import ReconCancelled
from napari_dynmri.validation import cast_finite, check_kspace, check_mask, fail

__all__ = ["Progress", "ReconCancelled", "ReconMethod", "ShouldStop", "check_multicoil_inputs", "check_recon_inputs"]

Progress = Callable[[int, int], None]
ShouldStop = Callable[[], bool]


def check_recon_inputs(kspace, mask, source="the acquisition") -> tuple[np.ndarray, np.ndarray]:
    """``kspace`` as finite complex64 ``(T, H, W)`` and ``mask`` as bool of the same shape.

    Refused with a ``ValueError`` naming ``source`` (:mod:`napari_dynmri.validation`): real or
    integer k-space, NaN or infinite samples (also after the cast to complex64), images under
    8 x 8 pixels, a mask of another shape, with values other than 0/1, or sampling nothing.
    """
    kspace = check_kspace(kspace, source)
    return kspace, check_mask(mask, kspace.shape, source)


def check_multicoil_inputs(kspace, mask, maps, source="the acquisition") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Multi-coil k-space ``(T, C, H, W)``, its ``(T, H, W)`` mask and ``(C, H, W)`` coil maps, checked.

    Returns the k-space coil-first, ``(C, T, H, W)`` complex64 (the solvers' order), the bool mask and
    the complex64 maps; mismatched shapes, real or non-finite data raise a ``ValueError`` naming ``source``.
    """
    kspace = np.asarray(kspace)
    if kspace.ndim != 4 or kspace.dtype.kind != "c":
        raise fail(source, f"multi-coil k-space must be complex (T, C, H, W), got {kspace.dtype} {kspace.shape}")
    frames, coils, height, width = kspace.shape
    check_kspace(kspace[:, 0], source)  # the shape rules of a cine
    kspace = cast_finite(kspace, np.complex64, source, "kspace")
    maps = cast_finite(maps, np.complex64, source, "coil maps")
    if maps.shape != (coils, height, width):
        raise fail(source, f"coil maps {maps.shape} do not match the k-space's (C, H, W) {(coils, height, width)}")
    return np.ascontiguousarray(kspace.transpose(1, 0, 2, 3)), check_mask(mask, (frames, height, width), source), maps


class ReconMethod:
    """Base class of reconstruction methods.

    Attributes: ``name`` (what the CLI and tables call it), ``description`` (one line) and ``device``
    (where it computes: ``"cpu"``, ``"cuda"``, ``"mps"``). A method keeps no result: what a run chose
    comes back in the :class:`~napari_dynmri.recon.result.Reconstruction` of :meth:`reconstruct`.
    Subclasses implement :meth:`compute` (and :meth:`settings_summary` when they choose something).
    """

    name: str = ""
    description: str = ""
    device: str = "cpu"

    def settings_summary(self, settings: dict) -> str:
        """``settings`` of a :meth:`reconstruct` of this method in a few words for a status line (empty
        when there are none)."""
        return ""

    def compute(self, kspace, mask, progress: Progress | None = None, should_stop: ShouldStop | None = None,
                maps: np.ndarray | None = None) -> tuple[np.ndarray, dict, np.ndarray | None]:
        """The work of :meth:`reconstruct` (same arguments): ``(image, settings, uncertainty)``, the
        complex64 ``(T, H, W)`` image, the JSON-ready settings chosen and the float32 ``(T, H, W)``
        trust map or None."""
        raise NotImplementedError

    def reconstruct(
        self,
        kspace: np.ndarray,
        mask: np.ndarray,
        *,
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
        maps: np.ndarray | None = None,
    ) -> Reconstruction:
        """complex (T, H, W) k-space, bool (T, H, W) mask -> a :class:`~napari_dynmri.recon.result.Reconstruction`
        (its ``image`` complex64 (T, H, W), ``settings``, ``seconds``, ``device``, ``uncertainty``, and the
        ``kspace``, ``mask`` and ``maps`` as given).

        ``progress(done, total)`` is called as the work advances; ``should_stop()`` is polled
        between steps and a True answer raises :class:`ReconCancelled`. ``maps``: coil sensitivities
        ``(C, H, W)`` of multi-coil k-space ``(T, C, H, W)`` (SENSE; the classical methods only).
        """
        start = time.perf_counter()
        image, settings, uncertainty = self.compute(kspace, mask, progress, should_stop, maps)
        return Reconstruction(image=image, method=self.name, device=self.device, seconds=time.perf_counter() - start,
                              settings=settings, description=self.description, uncertainty=uncertainty,
                              kspace=np.asarray(kspace), mask=np.asarray(mask), coil_maps=maps)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} on {self.device}>"
