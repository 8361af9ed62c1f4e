"""Training losses as weighted sums of named terms, and their construction from a config dict.

Scheme. A loss has an MSE weight ``w`` (default 1) and auxiliary terms k ("edge", "perceptual"), each
with a weight ``w_k`` and a start iteration ``s_k``. At iteration ``i`` the active terms are those with
``i >= s_k``, and

    L(i) = (w - sum_active w_k) * MSE + sum_active w_k * D_k

so an auxiliary term takes its weight from the MSE's share while it is active (the weights of the
active terms, MSE included, always sum to ``w``). The founding report's losses are the special cases
with ``w = 1`` and one term:

- ``EdgeLoss(alpha, start_iteration)``: MSE while ``i < start_iteration``, then
  ``(1 - alpha) * MSE + alpha * edge_distance``;
- ``PerceptualLoss(alpha=alpha)``: ``(1 - alpha) * MSE + alpha * FeatureDistance``.

The same losses from a config: ``build_loss({"edge": {"weight": alpha, "start_iteration": 100}})``,
``build_loss({"mse": 1.0, "perceptual": {"weight": alpha, "backbone": "squeezenet"}})``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from napari_dynmri.losses.edges import edge_distance
from napari_dynmri.losses.perceptual import FeatureDistance
from napari_dynmri.validation import check_axes, check_keys, check_same_shape, check_value, integer, number

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

CONFIG_KEYS = ("mse", "edge", "perceptual")
TERM_OPTIONS = {
    "edge": ("weight", "start_iteration"),
    "perceptual": ("weight", "start_iteration", "backbone", "layers", "weights_path"),
}


def mse_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of ``|out - target|^2`` over all (complex) values. out, target: same shape; returns a real scalar."""
    check_same_shape(out, target, "out and target")
    return (out - target).abs().square().mean()


class Term(nn.Module):
    """An auxiliary loss term: ``distance(out, target) -> scalar``, its weight and its start iteration."""

    def __init__(self, distance: Distance, weight: float, start_iteration: int = 0):
        super().__init__()
        self.distance = distance
        self.weight = float(check_value(weight, number(0), "a loss weight"))
        self.start_iteration = int(check_value(start_iteration, integer(0), "a loss term's start_iteration"))

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.distance(out, target)


class CombinedLoss(nn.Module):
    """``L(i) = (mse_weight - sum_active w_k) * MSE + sum_active w_k * D_k`` (see the module docstring).

    Called as ``loss(out, target, iteration=0)`` on complex (B, T, H, W) tensors; returns a real scalar.
    ``loss.terms(out, target, iteration)`` returns the unweighted value of every active term plus the
    weighted ``"total"`` (one computation: backpropagate ``terms["total"]`` and log the rest).
    """

    def __init__(self, mse_weight: float = 1.0, terms: Mapping[str, Term] | None = None):
        super().__init__()
        terms = dict(terms or {})
        if {"mse", "total"} & set(terms):
            raise ValueError("Auxiliary terms cannot be named 'mse' or 'total'.")
        auxiliary = sum(term.weight for term in terms.values())
        if not mse_weight >= auxiliary:
            raise ValueError(
                f"The auxiliary weights sum to {auxiliary}, more than the mse weight {mse_weight}: "
                "each auxiliary term takes its weight from the MSE's share."
            )
        self.mse_weight = float(mse_weight)
        self.auxiliary = nn.ModuleDict(terms)

    def weights(self, iteration: int = 0) -> dict[str, float]:
        """Weight of each term active at ``iteration`` ("mse" first); they sum to ``mse_weight``."""
        active = {
            name: term.weight for name, term in self.auxiliary.items() if iteration >= term.start_iteration
        }
        return {"mse": self.mse_weight - sum(active.values()), **active}

    def terms(self, out: torch.Tensor, target: torch.Tensor, iteration: int = 0) -> dict[str, torch.Tensor]:
        """Unweighted scalar of each active term ("mse", then the auxiliary ones) and the weighted "total"."""
        check_same_shape(out, target, "out and target")
        check_axes(out.shape, "(B, T, H, W)", "out and target")
        weights = self.weights(iteration)
        values = {"mse": mse_loss(out, target)}
        values.update({name: self.auxiliary[name](out, target) for name in weights if name != "mse"})
        values["total"] = sum(weights[name] * values[name] for name in weights)
        return values

    def forward(self, out: torch.Tensor, target: torch.Tensor, iteration: int = 0) -> torch.Tensor:
        return self.terms(out, target, iteration)["total"]


class EdgeLoss(CombinedLoss):
    """Founding report's edge loss: MSE while ``iteration < start_iteration``, then
    ``(1 - alpha) * MSE + alpha * mean(|Sobel(|out|) - Sobel(|target|)|^2)`` (0 <= alpha <= 1)."""

    def __init__(self, alpha: float = 0.2, start_iteration: int = 100):
        super().__init__(1.0, {"edge": Term(edge_distance, alpha, start_iteration)})


class PerceptualLoss(CombinedLoss):
    """Founding report's perceptual loss: ``(1 - alpha) * MSE + alpha * FeatureDistance`` (0 <= alpha <= 1).

    backbone, layers, weights_path: see ``FeatureDistance``; the term is active from ``start_iteration``.
    The feature term is on the backbone's activation scale, far above the MSE of images with maximum 1:
    on a pig cine (SqueezeNet, default layers) it measured about 4e5 times the MSE, both for a
    zero-filled 3.4x undersampled reconstruction and for added noise, so the default alpha=1e-6 gives the
    two terms comparable contributions (alpha=0.1 would make the loss almost purely perceptual).
    """

    def __init__(
        self,
        backbone: str = "squeezenet",
        alpha: float = 1e-6,
        layers: Sequence[str] | None = None,
        weights_path: str | Path | None = None,
        start_iteration: int = 0,
    ):
        distance = FeatureDistance(backbone, layers, weights_path)
        super().__init__(1.0, {"perceptual": Term(distance, alpha, start_iteration)})


def _term(name: str, spec: object) -> Term:
    """Build auxiliary term ``name`` from a weight or a dict of ``TERM_OPTIONS[name]``."""
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        spec = {"weight": spec}
    if not isinstance(spec, Mapping) or "weight" not in spec:
        raise ValueError(
            f"Loss term {name!r} must be a weight or a dict with a 'weight' and optional keys "
            f"{list(TERM_OPTIONS[name][1:])}, got {spec!r}."
        )
    check_keys(spec, TERM_OPTIONS[name], f"{name} loss option")
    options = dict(spec)
    weight = options.pop("weight")
    start_iteration = options.pop("start_iteration", 0)
    distance = edge_distance if name == "edge" else FeatureDistance(**options)
    return Term(distance, weight, start_iteration)


def build_loss(config: Mapping[str, object] | None = None) -> CombinedLoss:
    """Build a ``CombinedLoss`` from a config such as
    ``{"mse": 1.0, "edge": {"weight": 0.2, "start_iteration": 100}, "perceptual": {"weight": 0.1}}``.

    Keys: "mse" (total weight, default 1.0), "edge" and "perceptual" (a weight, or a dict with "weight"
    and the options in ``TERM_OPTIONS``). An empty or None config gives plain MSE. Unknown keys and
    auxiliary weights summing to more than the mse weight raise ValueError.
    """
    config = dict(config or {})
    check_keys(config, CONFIG_KEYS, "loss key")
    terms = {name: _term(name, config[name]) for name in CONFIG_KEYS[1:] if name in config}
    return CombinedLoss(config.get("mse", 1.0), terms)
