"""napari sample data (File > Open Sample): the bundled pig cine and the cardiac phantom."""

from __future__ import annotations

from napari_dynmri._napari._layers import cine_layer_data
from napari_dynmri.data.samples import load_sample


def pig_sample() -> list[tuple]:
    """The real pig short-axis cine (CC0), magnitude ``(20, 256, 256)``, 0.82 mm pixels."""
    return [cine_layer_data(load_sample("pig"), name="pig cine")]


def phantom_sample() -> list[tuple]:
    """The procedural cardiac phantom ``(20, 128, 128)``, complex, shown as magnitude."""
    return [cine_layer_data(load_sample("phantom"), name="cardiac phantom")]
