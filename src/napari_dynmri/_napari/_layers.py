"""Glue shared by the widgets: cines in and out of napari layers, and errors as plain notifications.

Layers made by the plugin carry what the core needs in ``layer.metadata`` (the keys below): the
displayed data is always real (the magnitude of a complex cine), the complex cine rides along under ``COMPLEX_KEY``.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Image
from napari.utils.notifications import show_error

# layer.metadata keys
ROLE_KEY = "dynmri_role"  # "cine", "mask", "k-space", "zero-filled", "recon", "error", "edges", "phase", "coil maps"
COMPLEX_KEY = "dynmri_complex"  # complex64 array, same shape as layer.data
KSPACE_KEY = "dynmri_kspace"  # measured k-space (T, H, W), or (T, C, H, W) with MAPS_KEY, on zero-filled layers
MASK_KEY = "dynmri_mask"  # bool (T, H, W) sampling pattern, on zero-filled layers
MAPS_KEY = "dynmri_coil_maps"  # complex64 (C, H, W) coil sensitivities of multi-coil k-space (SENSE)
SETTINGS_KEY = "dynmri_settings"  # JSON-able dict: how the layer was made
REFERENCE_KEY = "dynmri_reference"  # name of the fully sampled layer a result came from
METRICS_KEY = "dynmri_metrics"  # on results: sequence and per-frame PSNR / SSIM against their reference
SPACING_KEY = "pixel_spacing_mm"  # (row, col) in mm, or None when unknown
THICKNESS_KEY = "slice_thickness_mm"  # slice thickness in mm, or None when unknown
TIMES_KEY = "trigger_times_ms"  # frame times in ms, (T,) or (Z, T) for a (Z, T, H, W) layer, or None
SLICE_KEY = "dynmri_slice"  # on results: the slice z of a (Z, T, H, W) source they come from, or None

AXIS_LABELS = {3: ("t", "y", "x"), 4: ("z", "t", "y", "x")}
IN_PLANE_UNIT = "mm"  # napari layer units of y and x when the pixel spacing is known (t and z stay steps)

# Roles of layers that show something other than an image of the anatomy.
DISPLAY_ROLES = ("mask", "k-space", "error", "edges", "phase", "uncertainty", "coil maps")
# Roles of layers that are results of the plugin (compared with a reference, never one themselves).
RESULT_ROLES = ("zero-filled", "recon")

# Exceptions a widget turns into a notification: bad input, files, torch failures, memory.
USER_ERRORS = (ValueError, OSError, RuntimeError, MemoryError)


def cine_layer_data(cine, name: str) -> tuple[np.ndarray, dict, str]:
    """A :class:`~napari_dynmri.io.cine.Cine` as a napari layer-data tuple ``(data, kwargs, "image")``.

    ``data`` is the float32 magnitude ``(T, H, W)`` or ``(Z, T, H, W)``; axes are labelled ``t`` (and
    ``z``), the in-plane scale is the pixel spacing with units of mm (so the scale bar reads mm), and
    the metadata holds the source, the reader's ``meta``, the spacing, slice thickness, trigger times
    and (for complex data) the complex cine.
    """
    ndim = cine.data.ndim
    if ndim not in AXIS_LABELS:
        raise ValueError(f"{cine.source} has {ndim} axes; a cine is (T, H, W) or (Z, T, H, W).")
    metadata = {
        ROLE_KEY: "cine",
        "dynmri_source": str(cine.source),
        "dynmri_meta": dict(cine.meta),
        SPACING_KEY: cine.pixel_spacing_mm,
        THICKNESS_KEY: cine.meta.get(THICKNESS_KEY),
        TIMES_KEY: cine.trigger_times_ms,
    }
    if cine.is_complex:
        metadata[COMPLEX_KEY] = cine.data.astype(np.complex64, copy=False)
    kwargs = {"name": name, "metadata": metadata, "axis_labels": AXIS_LABELS[ndim]}
    if cine.pixel_spacing_mm is not None:
        kwargs["scale"] = (1.0,) * (ndim - 2) + tuple(float(s) for s in cine.pixel_spacing_mm)
        kwargs["units"] = ("pixel",) * (ndim - 2) + (IN_PLANE_UNIT, IN_PLANE_UNIT)
    return np.abs(cine.data).astype(np.float32, copy=False), kwargs, "image"


def check_cine_layer(layer) -> None:
    """Raise ValueError, with a sentence naming the layer, unless ``layer`` is a grey-level cine image."""
    if not isinstance(layer, Image):
        raise ValueError(f"'{layer.name}' is not an image layer; choose an image holding a cine.")
    if layer.rgb:
        raise ValueError(f"'{layer.name}' is an RGB colour image; dynmri needs a grey-level cine (T, H, W).")
    if layer.multiscale:
        raise ValueError(f"'{layer.name}' is a multiscale image; dynmri needs a single-resolution cine.")
    if layer.ndim == 2:
        raise ValueError(
            f"'{layer.name}' is a single 2D image; a cine needs a time axis: (T, H, W) or (Z, T, H, W)."
        )
    if layer.ndim not in AXIS_LABELS:
        raise ValueError(f"'{layer.name}' has {layer.ndim} axes; dynmri needs (T, H, W) or (Z, T, H, W).")


def check_image_role(layer) -> None:
    """Raise ValueError when ``layer`` is a mask, k-space or coil-map display made by the plugin, not an image."""
    role = layer.metadata.get(ROLE_KEY)
    if role in ("mask", "k-space", "coil maps"):
        raise ValueError(f"'{layer.name}' shows a {role}, not an image; choose a cine or a zero-filled layer.")


def displayed_slice(viewer, layer) -> int:
    """Index of the slice ``z`` of a ``(Z, T, H, W)`` layer the viewer shows now (0 for ``(T, H, W)``)."""
    if layer.ndim != 4:
        return 0
    z = layer.world_to_data(viewer.dims.point[-4:])[0]
    return int(np.clip(round(z), 0, layer.data.shape[0] - 1))


def layer_cine(layer, z_index: int = 0) -> np.ndarray:
    """The cine ``(T, H, W)`` behind a layer: complex64 when the layer keeps one, else float32.

    For a ``(Z, T, H, W)`` layer, slice ``z_index`` is returned. Raises ValueError (see
    :func:`check_cine_layer`) for layers that are not cines.
    """
    check_cine_layer(layer)
    data = layer.metadata.get(COMPLEX_KEY)
    if data is None or data.shape != layer.data.shape:
        data = np.asarray(layer.data, dtype=np.float32)
    return data[z_index] if data.ndim == 4 else data


def layer_slice(viewer, layer) -> int | None:
    """The slice ``z`` a layer's cine belongs to: the displayed one of a ``(Z, T, H, W)`` layer, the one a
    ``(T, H, W)`` result was made from (``SLICE_KEY``), or None for a single-slice cine."""
    if layer.ndim == 4:
        return displayed_slice(viewer, layer)
    return layer.metadata.get(SLICE_KEY)


def slice_suffix(z_index: int | None) -> str:
    """The suffix of a result's layer name that says its slice: ``" z1"``, or ``""`` for a single slice."""
    return "" if z_index is None else f" z{z_index}"


def add_cine_layer(viewer, data: np.ndarray, name: str, like, role: str, metadata: dict | None = None,
                   z_index: int | None = None, reuse: bool = False, **kwargs):
    """Add a ``(T, H, W)`` result as a new image layer placed like the layer ``like``; returns it.

    Complex ``data`` is shown as its magnitude and kept whole under ``COMPLEX_KEY``; real data (a phase,
    an error map) is shown as it is. The layer gets
    ``like``'s in-plane scale, offset and units, axis labels ``t, y, x``, and ``like``'s geometry
    (pixel spacing, slice thickness, the trigger times of its slice) and slice: ``z_index`` when
    ``like`` is ``(Z, T, H, W)``, else ``like``'s own ``SLICE_KEY``. With ``reuse``, a layer of the same
    name and role already in the viewer gets the new data and metadata instead of a duplicate.
    """
    z = z_index if like.ndim == 4 else like.metadata.get(SLICE_KEY)
    times = like.metadata.get(TIMES_KEY)
    if times is not None and np.ndim(times) == 2:
        times = np.asarray(times)[z or 0]
    layer_metadata = {ROLE_KEY: role, SPACING_KEY: like.metadata.get(SPACING_KEY),
                      THICKNESS_KEY: like.metadata.get(THICKNESS_KEY), TIMES_KEY: times, SLICE_KEY: z,
                      **(metadata or {})}
    if np.iscomplexobj(data):
        layer_metadata[COMPLEX_KEY] = data.astype(np.complex64, copy=False)
        data = np.abs(data)
    shown = data.astype(np.float32, copy=False)
    if reuse and name in viewer.layers and viewer.layers[name].metadata.get(ROLE_KEY) == role:
        layer = viewer.layers[name]
        layer.data = shown
        layer.metadata = layer_metadata
        for key, value in kwargs.items():
            setattr(layer, key, value)
        return layer
    return viewer.add_image(
        shown,
        name=name,
        metadata=layer_metadata,
        scale=tuple(like.scale[-3:]),
        translate=tuple(like.translate[-3:]),
        units=tuple(like.units[-3:]),
        axis_labels=AXIS_LABELS[3],
        **kwargs,
    )


def image_choices(viewer, exclude_roles: tuple[str, ...] = ()) -> list[tuple[str, Image]]:
    """``(name, layer)`` pairs of the viewer's image layers whose role is not in ``exclude_roles``, for drop-downs."""
    return [(layer.name, layer) for layer in viewer.layers
            if isinstance(layer, Image) and layer.metadata.get(ROLE_KEY) not in exclude_roles]


def time_index(viewer) -> int:
    """The frame ``t`` the time slider shows; ``t`` is the viewer axis before the two displayed ones."""
    return int(viewer.dims.current_step[max(viewer.dims.ndim - 3, 0)])


def report_error(err: BaseException, doing: str) -> None:
    """Show ``err`` as a one-sentence napari error notification (no traceback).

    ``doing`` completes "Could not ..." / "Not enough memory to ...", e.g. "reconstruct 'zero-filled'".
    """
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if isinstance(err, MemoryError) or "out of memory" in text.lower():
        show_error(f"Not enough memory to {doing}; try the CPU device or a smaller cine (fewer frames, a crop).")
    elif isinstance(err, (ValueError, OSError)):
        show_error(text)
    else:
        show_error(f"Could not {doing}: {text}")
