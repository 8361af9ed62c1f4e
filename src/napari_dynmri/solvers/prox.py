"""Proximal maps and transforms of the priors, on complex torch tensors ``(..., T, H, W)``.

Weights and thresholds may be floats or tensors that broadcast against the leading (batch) axes,
e.g. ``(B, 1, 1, 1)`` for one weight per problem of a batch.
"""

from __future__ import annotations

import torch


def soft_threshold(x, threshold):
    """Complex soft threshold ``x * max(1 - t / |x|, 0)``: the proximal map of ``t ||x||_1``."""
    return x * torch.clamp(1.0 - threshold / torch.clamp(x.abs(), min=1e-12), min=0.0)


def temporal_fft(x):
    """Orthonormal FFT over time (axis -3)."""
    return torch.fft.fft(x, dim=-3, norm="ortho")


def temporal_ifft(x):
    """Inverse of :func:`temporal_fft`."""
    return torch.fft.ifft(x, dim=-3, norm="ortho")


def temporal_difference(x):
    """Circular forward difference over time: ``x[t + 1] - x[t]`` (frame ``T`` is frame 0)."""
    return torch.roll(x, shifts=-1, dims=-3) - x


def adjoint_difference(w):
    """``D^H w`` for the circular forward difference ``D``: ``w[t - 1] - w[t]``."""
    return torch.roll(w, shifts=1, dims=-3) - w


def casorati(x):
    """The Casorati matrices ``(..., T, H W)`` of cines ``(..., T, H, W)`` (frames as rows)."""
    return x.reshape(*x.shape[:-2], -1)


def largest_singular_value(x):
    """``sigma_1`` of each Casorati matrix, ``(...)`` float64, from the ``T x T`` Gram matrix."""
    c = casorati(x).to(torch.complex128)
    gram = c @ c.conj().transpose(-2, -1)
    return torch.sqrt(torch.clamp(torch.linalg.eigvalsh(gram)[..., -1], min=0.0))


def singular_value_threshold(x, threshold):
    """Shrink the singular values of each Casorati matrix of ``x`` by ``threshold`` (the prox of ``t ||C(x)||_*``).

    From the ``T x T`` Gram matrix ``C C^H = V diag(s^2) V^H`` (``T`` is small): ``C`` becomes
    ``V diag(max(1 - t / s, 0)) V^H C``, two ``(T x T) x (T x H W)`` products and no SVD of the
    tall matrix. ``threshold``: a float or a tensor of shape ``(...)`` (one per matrix).
    """
    c = casorati(x)
    gram = (c @ c.conj().transpose(-2, -1)).to(torch.complex128)
    eigenvalues, vectors = torch.linalg.eigh(gram)
    singular = torch.sqrt(torch.clamp(eigenvalues, min=0.0))
    threshold = torch.as_tensor(threshold, dtype=torch.float64, device=x.device)
    if threshold.ndim:
        threshold = threshold.reshape(*threshold.shape, 1)
    gain = torch.where(singular > threshold, 1.0 - threshold / torch.clamp(singular, min=1e-30), 0.0)
    projector = (vectors * gain.to(vectors.dtype).unsqueeze(-2)) @ vectors.conj().transpose(-2, -1)
    return (projector.to(x.dtype) @ c).reshape(x.shape)
