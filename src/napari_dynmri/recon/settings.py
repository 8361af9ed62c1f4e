"""The settings JSON: how results were made, written by napari and read back by ``dynmri recon --config``.

The napari Export widget writes it as ``settings.json`` beside the exported layers, and the plugin's
writer (File > Save Layers) stores it inside the ``.npz`` of a reconstruction. One object::

    {
      "versions": {"python": "3.11.9", "napari-dynmri": "0.1.0", "numpy": ..., ...},
      "layers":   {layer name: how that layer was made (mask, seed, model, device, seconds, ...)},
      "files":    {file name: {"layer": layer name, "axes", "units", "pixel_spacing_mm", ...}},
      "recon":    {"model", "device", and every method option: "lam", "iterations", "uncertainty", ...}
    }

Every key is optional when read. ``"recon"`` holds the options of ``dynmri recon``: the method
(``model``), the ``device`` and every option of :mod:`napari_dynmri.recon.options`'s registry
(``RECON_RULES`` says what each may be, ``RECON_DEFAULTS`` what an absent one means: the method's own
default); it is checked when written as well as when read, so what napari writes is what the command
accepts. The other sections are a record for people and are not read back.
"""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from napari_dynmri.recon.methods import DEFAULT_METHOD
from napari_dynmri.recon.registry import any_rule, declarations, option_names
from napari_dynmri.validation import check_fields, fail, nullable, read_json, text

SETTINGS_FILE = "settings.json"
VERSIONED_PACKAGES = ("napari-dynmri", "napari", "numpy", "torch", "scikit-image")

# The keys a settings file may set (its "recon" object), with what an absent one means: the method,
# the device, and every method option recorded as not given (the method's own default).
RECON_DEFAULTS = {
    "model": DEFAULT_METHOD,
    "device": "auto",
    **{name: declarations(name)[0].unset for name in option_names()},
}
RECON_RULES = {
    "model": text("a method or model name"),
    "device": text("a device name (auto, cpu, cuda, mps)"),
    **{name: any_rule(name) if declarations(name)[0].kind is bool else nullable(any_rule(name))
       for name in option_names()},
}


def versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on (``"not installed"`` when absent)."""
    found = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def json_safe(value):
    """``value`` with numpy scalars as Python numbers, tuples as lists and keys as strings, for ``json.dumps``."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def settings_json(layers: dict | None = None, files: dict | None = None, recon: dict | None = None) -> str:
    """The settings JSON text (see the module docstring), with this machine's versions.

    ``layers``: layer name -> how it was made; ``files``: file name -> what it holds; ``recon``: the
    options of ``dynmri recon``, refused (``InputError``) unless ``dynmri recon --config`` would accept them.
    """
    settings = {"versions": versions(), "layers": json_safe(layers or {}), "files": json_safe(files or {})}
    if recon is not None:
        settings["recon"] = check_fields(
            json_safe(recon), RECON_RULES, "the recon settings", kind="settings key", prefix="recon."
        )
    return json.dumps(settings, indent=2) + "\n"


def read_recon_settings(path) -> dict:
    """The ``"recon"`` object of a settings JSON at ``path``, checked against ``RECON_RULES``.

    Other top-level keys are ignored. A file that is missing, special, too large, not UTF-8 text, not
    JSON or without a ``"recon"`` object, an unknown key inside ``"recon"`` or a value of the wrong
    kind raises one ``InputError`` line naming the file and the key. Returns the keys given.
    """
    recon = read_json(path, "settings file").get("recon")
    if not isinstance(recon, dict):
        raise fail(path, 'has no "recon" object with the options of dynmri recon')
    return check_fields(recon, RECON_RULES, path, kind="settings key", prefix="recon.")
