"""What a reconstruction returns: :class:`Reconstruction`, the image with what made it, and its npz.

Every :meth:`~napari_dynmri.recon.base.ReconMethod.reconstruct` returns one (the method sets nothing on
itself); :meth:`Reconstruction.save` writes the ``dynmri recon`` npz and :meth:`Reconstruction.load`
reads it back, every array checked (:mod:`napari_dynmri.validation`) and nothing unpickled. The npz
keys, beside ``Simulation.save``'s of a ``dynmri simulate`` npz:

``recon``
    complex64 ``(T, H, W)``, the reconstructed cine.
``kspace``, ``mask``
    the k-space it was made from (complex ``(T, H, W)``, or ``(T, C, H, W)`` with ``coil_maps``) and the
    bool ``(T, H, W)`` mask.
``zero_filled``
    complex64 ``(T, H, W)``: the zero-filled image (SENSE-1 combined for multi-coil k-space).
``meta``
    a JSON object: ``method``, ``description``, ``device``, ``seconds`` (wall time, rounded to ms),
    ``settings`` (what the method chose), ``input`` (what was reconstructed) and ``acquisition`` (how
    its k-space was made: the simulate or raw-scan meta).
``target``, ``uncertainty``, ``coil_maps`` (only when known)
    complex64 ``(T, H, W)`` fully sampled target; float32 ``(T, H, W)`` trust map; complex64
    ``(C, H, W)`` coil sensitivities.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_dynmri import validation
from napari_dynmri.io.npz import load_npz, npz_arrays, save_npz
from napari_dynmri.physics.fft import ifft2c
from napari_dynmri.simulation import array_of_shape, check_meta_spacing, read_meta

REQUIRED_KEYS = ("recon", "kspace", "mask", "zero_filled", "meta")
OPTIONAL_KEYS = ("target", "uncertainty", "coil_maps")
STRING = validation.Rule(lambda value: isinstance(value, str), "a string")
META_RULES = {
    "method": validation.text("a method name"),
    "description": STRING,
    "device": validation.text("a device name"),
    "seconds": validation.number(0.0),
    "settings": validation.OBJECT,
    "input": STRING,
    "acquisition": validation.OBJECT,
}


@dataclass
class Reconstruction:
    """A reconstructed cine and what made it.

    Attributes:
        image: complex64 ``(T, H, W)``, the reconstructed cine.
        method: the method's name (``"cs-auto"``, ``"cs-xf"``, ``"dynmri-default"``, ...).
        device: where it computed (``"cpu"``, ``"cuda"``, ...).
        seconds: wall time of the reconstruction, in seconds.
        settings: JSON-ready record of what the method chose or used (e.g. the chosen method and weight
            of ``cs-auto``, every candidate's cross-validation score); empty for methods that choose nothing.
        description: one line saying what the method is.
        uncertainty: float32 ``(T, H, W)`` trust map (the spread of the cross-validation folds'
            reconstructions) when asked for with ``uncertainty=True``, else None.
        kspace: the k-space reconstructed, complex ``(T, H, W)`` or multi-coil ``(T, C, H, W)``, as given.
        mask: the bool ``(T, H, W)`` sampling mask, as given.
        coil_maps: complex64 ``(C, H, W)`` coil sensitivities of multi-coil k-space, else None.
        zero_filled, target: complex64 ``(T, H, W)`` zero-filled image and fully sampled target, when
            the caller knows them (``dynmri recon`` sets both); :meth:`save` computes a missing
            ``zero_filled``.
        source: what was reconstructed (a file name or ``sample:pig``), recorded as ``input``.
        acquisition_meta: how the k-space was made (the ``meta`` of a simulation or raw scan).
    """

    image: np.ndarray
    method: str
    device: str
    seconds: float
    settings: dict = field(default_factory=dict)
    description: str = ""
    uncertainty: np.ndarray | None = None
    kspace: np.ndarray | None = None
    mask: np.ndarray | None = None
    coil_maps: np.ndarray | None = None
    zero_filled: np.ndarray | None = None
    target: np.ndarray | None = None
    source: str = ""
    acquisition_meta: dict = field(default_factory=dict)

    def meta(self) -> dict:
        """The npz's ``meta`` object (see the module docstring)."""
        return {
            "method": self.method,
            "description": self.description,
            "device": self.device,
            "seconds": round(float(self.seconds), 3),
            "settings": self.settings,
            "input": self.source,
            "acquisition": self.acquisition_meta,
        }

    def to_npz_dict(self) -> dict:
        """The arrays under the ``dynmri recon`` npz keys, with ``meta`` as a JSON string.

        A missing ``zero_filled`` is ``ifft2c(kspace)`` (SENSE-1 combined with ``coil_maps`` for
        multi-coil k-space). Raises ``ValueError`` without ``kspace`` and ``mask``.
        """
        if self.kspace is None or self.mask is None:
            raise ValueError(f"this {self.method} reconstruction has no k-space and mask to save with it")
        zero_filled = self.zero_filled
        if zero_filled is None:
            zero_filled = ifft2c(np.asarray(self.kspace)).astype(np.complex64)
            if self.coil_maps is not None:
                from napari_dynmri.physics.coils import sense_combine

                zero_filled = sense_combine(zero_filled, self.coil_maps)
        arrays = {"recon": self.image, "kspace": self.kspace, "mask": self.mask, "zero_filled": zero_filled,
                  "meta": np.array(json.dumps(self.meta()))}
        optional = {"target": self.target, "uncertainty": self.uncertainty, "coil_maps": self.coil_maps}
        arrays.update({key: value for key, value in optional.items() if value is not None})
        return arrays

    def save(self, path, overwrite: bool = False) -> Path:
        """Write the ``dynmri recon`` npz (:meth:`to_npz_dict`) to ``path`` atomically; returns ``path``.

        ``path`` is never replaced unless ``overwrite`` (``FileExistsError``)."""
        return save_npz(path, self.to_npz_dict(), overwrite)

    @classmethod
    def load(cls, path) -> Reconstruction:
        """A ``dynmri recon`` npz as saved, every array checked (:mod:`napari_dynmri.validation`).

        ``recon`` finite complex ``(T, H, W)`` of at least 8 x 8 pixels; ``mask`` a non-empty 0/1 mask
        of its shape; ``kspace`` complex of that shape, or ``(T, C, H, W)`` with ``coil_maps`` ``(C, H, W)``;
        ``zero_filled`` and ``target`` complex, ``uncertainty`` real, all ``(T, H, W)``; ``meta`` a JSON
        object holding every key of ``META_RULES``. A missing key, a pickled (object) array, a wrong
        shape, dtype or value raises one ``InputError`` (a ``ValueError``) naming the file.
        """
        present = npz_arrays(path)  # refuses pickled arrays from the headers, before any loading
        arrays = load_npz(path, [*REQUIRED_KEYS, *(key for key in OPTIONAL_KEYS if key in present)])
        image = validation.check_kspace(arrays["recon"], path, "recon")
        frames, height, width = image.shape
        mask = validation.check_mask(arrays["mask"], image.shape, path)
        coil_maps = arrays.get("coil_maps")
        if coil_maps is not None:
            validation.check_axes(coil_maps.shape, "(C, H, W)", "coil_maps", path)
            coil_maps = array_of_shape(coil_maps, (coil_maps.shape[0], height, width), path, "coil_maps")
        if arrays["kspace"].dtype.kind != "c":
            raise validation.fail(path, f"kspace must be complex, got dtype {arrays['kspace'].dtype}")
        kspace_shape = image.shape if coil_maps is None else (frames, coil_maps.shape[0], height, width)
        meta = validation.check_fields(read_meta(arrays["meta"], path), META_RULES, path, kind="meta key",
                                       prefix="meta.", required=True)
        return cls(
            image=image,
            method=meta["method"],
            device=meta["device"],
            seconds=float(meta["seconds"]),
            settings=meta["settings"],
            description=meta["description"],
            uncertainty=array_of_shape(arrays.get("uncertainty"), image.shape, path, "uncertainty", np.float32),
            kspace=array_of_shape(arrays["kspace"], kspace_shape, path, "kspace"),
            mask=mask,
            coil_maps=coil_maps,
            zero_filled=array_of_shape(arrays["zero_filled"], image.shape, path, "zero_filled"),
            target=array_of_shape(arrays.get("target"), image.shape, path, "target"),
            source=meta["input"],
            acquisition_meta=check_meta_spacing(meta["acquisition"], path),
        )
