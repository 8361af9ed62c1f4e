"""Glue shared by the widgets: cines in and out of napari layers, and errors as plain notifications.

Layers made by the plugin carry what the core needs in ``layer.metadata`` (the keys below): the
displayed data is always a real magnitude, the complex cine rides along under ``COMPLEX_KEY``.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Image
from napari.utils.notifications import show_error

# layer.metadata keys
ROLE_KEY = "dynmri_role"  # "cine", "mask", "k-space", "zero-filled", "recon", "error", "edges"
COMPLEX_KEY = "dynmri_complex"  # complex64 array, same shape as layer.data
KSPACE_KEY = "dynmri_kspace"  # measured k-space (T, H, W), on zero-filled layers
MASK_KEY = "dynmri_mask"  # bool (T, H, W) sampling pattern, on zero-filled layers
SETTINGS_KEY = "dynmri_settings"  # JSON-able dict: how the layer was made
REFERENCE_KEY = "dynmri_reference"  # name of the fully sampled layer a result came from
METRICS_KEY = "dynmri_metrics"  # per-frame PSNR / SSIM, on |error| layers
SPACING_KEY = "pixel_spacing_mm"  # (row, col) in mm, or None when unknown

AXIS_LABELS = {3: ("t", "y", "x"), 4: ("z", "t", "y", "x")}

# Exceptions a widget turns into a notification: bad input, files, torch failures, memory.
USER_ERRORS = (ValueError, OSError, RuntimeError, MemoryError)


def cine_layer_data(cine, name: str) -> tuple[np.ndarray, dict, str]:
    """A :class:`~napari_dynmri.io.cine.Cine` as a napari layer-data tuple ``(data, kwargs, "image")``.

    ``data`` is the float32 magnitude ``(T, H, W)`` or ``(Z, T, H, W)``; axes are labelled ``t`` (and
    ``z``), the in-plane scale is the pixel spacing in mm, and the metadata holds the source, the
    reader's ``meta``, trigger times and (for complex data) the complex cine.
    """
    ndim = cine.data.ndim
    if ndim not in AXIS_LABELS:
        raise ValueError(f"{cine.source} has {ndim} axes; a cine is (T, H, W) or (Z, T, H, W).")
    metadata = {
        ROLE_KEY: "cine",
        "dynmri_source": str(cine.source),
        "dynmri_meta": dict(cine.meta),
        SPACING_KEY: cine.pixel_spacing_mm,
        "trigger_times_ms": cine.trigger_times_ms,
    }
    if cine.is_complex:
        metadata[COMPLEX_KEY] = cine.data.astype(np.complex64, copy=False)
    kwargs = {"name": name, "metadata": metadata, "axis_labels": AXIS_LABELS[ndim]}
    if cine.pixel_spacing_mm is not None:
        kwargs["scale"] = (1.0,) * (ndim - 2) + tuple(float(s) for s in cine.pixel_spacing_mm)
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
    """Raise ValueError when ``layer`` is a mask or k-space display made by the plugin, not an image."""
    role = layer.metadata.get(ROLE_KEY)
    if role in ("mask", "k-space"):
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


def add_cine_layer(viewer, data: np.ndarray, name: str, like, role: str, metadata: dict | None = None, **kwargs):
    """Add a ``(T, H, W)`` result as a new image layer placed like the layer ``like``; returns it.

    Complex ``data`` is shown as its magnitude and kept whole under ``COMPLEX_KEY``. The layer gets
    ``like``'s in-plane scale and offset, axis labels ``t, y, x`` and ``like``'s pixel spacing.
    """
    layer_metadata = {ROLE_KEY: role, SPACING_KEY: like.metadata.get(SPACING_KEY), **(metadata or {})}
    if np.iscomplexobj(data):
        layer_metadata[COMPLEX_KEY] = data.astype(np.complex64, copy=False)
    return viewer.add_image(
        np.abs(data).astype(np.float32, copy=False),
        name=name,
        metadata=layer_metadata,
        scale=tuple(like.scale[-3:]),
        translate=tuple(like.translate[-3:]),
        axis_labels=AXIS_LABELS[3],
        **kwargs,
    )


def image_choices(viewer) -> list[tuple[str, Image]]:
    """``(name, layer)`` pairs of the viewer's image layers, for widget drop-downs."""
    return [(layer.name, layer) for layer in viewer.layers if isinstance(layer, Image)]


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
