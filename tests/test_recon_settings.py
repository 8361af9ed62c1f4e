"""The settings JSON (napari_dynmri.recon.settings): what napari writes, dynmri recon --config reads."""

import json

import numpy as np
import pytest

from napari_dynmri.recon.settings import RECON_DEFAULTS, read_recon_settings, settings_json
from napari_dynmri.validation import InputError

RECON = {
    **RECON_DEFAULTS,
    "model": "cs-xf",
    "lam": 0.004,
    "iterations": 30,
    "device": "cpu",
    "uncertainty": True,
}


def test_written_settings_read_back(tmp_path):
    layers = {"recon (cs-xf)": {"mask": "vd-random", "seed": np.int64(3), "spacing": (1.25, 1.5)}}
    files = {"recon_cs-xf.npz": {"layer": "recon (cs-xf)", "slice": None}}
    path = tmp_path / "settings.json"
    path.write_text(settings_json(layers=layers, files=files, recon=RECON))

    assert read_recon_settings(path) == RECON
    written = json.loads(path.read_text())
    assert written["layers"] == {"recon (cs-xf)": {"mask": "vd-random", "seed": 3, "spacing": [1.25, 1.5]}}
    assert written["files"] == files and written["versions"]["numpy"] == np.__version__


def test_the_recon_section_holds_every_method_option_of_the_registry():
    from napari_dynmri.recon.registry import option_names

    assert set(RECON_DEFAULTS) == {"model", "device", *option_names()}
    assert (RECON_DEFAULTS["lam"], RECON_DEFAULTS["adapt"], RECON_DEFAULTS["half_window"]) == (None, False, None)


def test_settings_without_recon_options_are_written_but_not_read(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(settings_json(layers={"phantom": {}}))
    assert "recon" not in json.loads(path.read_text())
    with pytest.raises(InputError, match='settings.json: has no "recon" object'):
        read_recon_settings(path)


def test_recon_options_the_command_would_refuse_are_not_written():
    with pytest.raises(InputError, match=r"recon\.iterations must be an integer >= 1 or null, got 0"):
        settings_json(recon={**RECON, "iterations": 0})
    with pytest.raises(InputError, match=r"unknown settings key 'recon\.lambda'"):
        settings_json(recon={"lambda": 1})


HOSTILE = {
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "truncated": b'{"recon": {"model": "cs-',
    "nested": b"[" * 100_000 + b"]" * 100_000,
    "nan": b'{"recon": {"lam": NaN}}',
    "huge number": b'{"recon": {"iterations": 1e999}}',
    "wrong type": b'{"recon": {"adapt": "yes"}}',
    "unknown key": b'{"recon": {"model": "cs-xf", "lambda": 1}}',
    "recon a list": b'{"recon": [1, 2]}',
    "top-level list": b"[1]",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_garbled_or_hostile_file_gives_one_line_naming_it(name, tmp_path):
    path = tmp_path / "garbled settings.json"
    path.write_bytes(HOSTILE[name])
    with pytest.raises(InputError) as caught:
        read_recon_settings(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message and len(message) < 300
