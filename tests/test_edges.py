"""Tests of napari_dynmri.edges: the Sobel edge magnitude shared by the edge loss and the Compare widget."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_dynmri.edges import sobel_magnitude


def test_sobel_vertical_step_and_constant():
    image = np.zeros((8, 10), dtype=np.float32)
    image[:, 5:] = 2.5
    edges = sobel_magnitude(image)
    expected = np.zeros_like(image)
    expected[:, 4:6] = 4 * 2.5
    np.testing.assert_allclose(edges, expected, atol=1e-6)
    np.testing.assert_allclose(sobel_magnitude(image.T), expected.T, atol=1e-6)
    assert np.all(sobel_magnitude(np.full((6, 7), 3.0)) == 0.0)


def test_sobel_types_and_reference():
    rng = np.random.default_rng(1)
    cine = rng.random((3, 12, 9))
    edges = sobel_magnitude(cine)
    assert isinstance(edges, np.ndarray) and edges.dtype == np.float64 and edges.shape == cine.shape
    assert sobel_magnitude(cine.astype(np.int16)).dtype == np.float32
    for frame, frame_edges in zip(cine, edges, strict=True):  # frames are independent; scipy as reference
        reference = np.hypot(ndimage.sobel(frame, 0, mode="nearest"), ndimage.sobel(frame, 1, mode="nearest"))
        np.testing.assert_allclose(frame_edges, reference, rtol=1e-10)
    tensor_edges = sobel_magnitude(torch.from_numpy(cine))
    assert isinstance(tensor_edges, torch.Tensor)
    np.testing.assert_allclose(tensor_edges.numpy(), edges)
    with pytest.raises(ValueError, match="real image"):
        sobel_magnitude(cine.astype(np.complex64))
    with pytest.raises(ValueError, match=r"\(\.\.\., H, W\)"):
        sobel_magnitude(np.ones(5))
