"""The models shipped inside the package: offline, pickle-free, self-describing, and useful."""

import pickle

import numpy as np
import pytest
import torch

from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.metrics import psnr
from napari_dynmri.models.pretrained import DEFAULT_MODEL, list_pretrained, resolve_model
from napari_dynmri.models.registry import build_model
from napari_dynmri.recon.methods import get_method
from napari_dynmri.simulation import simulate

SHIPPED = [entry["name"] for entry in list_pretrained()]


def test_the_default_model_is_shipped():
    assert DEFAULT_MODEL in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_loads_without_pickle_and_rebuilds_from_its_card(name, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a shipped model must load without unpickling")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    model, card = resolve_model(name)
    rebuilt = build_model(card["architecture"], card["config"])
    assert rebuilt.state_dict().keys() == model.state_dict().keys()
    entry = next(e for e in list_pretrained() if e["name"] == name)
    assert entry["size_bytes"] < 20e6
    for key in ("description", "accelerations", "training_data", "licence", "metrics", "code_version"):
        assert key in card, f"model card of {name} lacks {key!r}"


@pytest.mark.usefixtures("one_thread")  # restores the thread count afterwards
@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("acceleration", [4, 8])
def test_shipped_model_beats_zero_filled_on_a_phantom(name, acceleration):
    sim = simulate(cardiac_phantom(12, 96, 80, seed=11), acceleration=acceleration, seed=5)
    recon = get_method(name, device="cpu").reconstruct(sim.kspace, sim.mask).image
    assert recon.shape == sim.target.shape and recon.dtype == np.complex64
    assert psnr(recon, sim.target) > psnr(sim.zero_filled, sim.target) + 1.0
