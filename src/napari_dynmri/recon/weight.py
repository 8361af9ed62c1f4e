"""Choices per scan (a method and its regularisation weight), made by cross-validation on the measured lines.

The scan's own data tell which prior suits it and how strongly to regularise. The measured k-space
lines outside the always-sampled centre are dealt into ``folds`` disjoint groups (seeded); each
group is held out once, the cine is reconstructed from the other lines by every candidate, and a
candidate's score is how badly its reconstructions predict the held-out lines, summed over the
folds. The best candidate then reconstructs the cine from all lines. No ground truth is involved,
so the choice follows the anatomy, noise and sampling of the scan at hand.

Design, measured on the stress sets of ``benchmarks/selection.py`` (docs/benchmarks.md, "Choosing
per scan"; 12 sets, R = 4, 8, 12, 50 scans, every candidate's PSNR and held-out errors recorded):

- **K-fold, not one split.** One 10 % split is about 45 lines, dominated by a few outer rows; it
  ranked methods wrongly on real cines, and it only chose among default weights. With the grid,
  10-fold scores cut the regret where the best weight is far from the default (strong noise:
  1.57 -> 0.00 dB at R = 8) at the same mean regret on the pig-derived sets (0.37 against 0.42 dB).
- **Ten folds.** A fold removes a tenth of the lines, so the problems scored are close to the
  scan's own (an effective R near 8.9 at R = 8); five folds (R near 10) ranked methods that
  degrade differently with R by a harder problem than the scan's.
- **Importance weights** (``DEFAULT_WEIGHTING``): a held-out line of a row sampled in a fraction
  ``p`` of the frames stands for ``(1 - p) / p`` unsampled lines, so the weighted score estimates
  the image error (Parseval). Mean regret 0.39 dB against 0.51 dB unweighted (``"uniform"``),
  whose worst case was 4.6 dB; both are recorded for every candidate. **Coil data are scored
  unweighted** (``COIL_WEIGHTING``): each coil's outer lines, which the weights raise most, are
  dominated by that coil's own noise (the combination's SNR is not theirs), so the weighted score
  rewarded predicting nothing there. On the multi-coil benchmark (pig slice, 8 coils, R = 8,
  against the fully sampled SENSE combination) the importance score chose x-f sparsity at 17.8x
  its default weight at 8 frames (33.6 dB) and at 10x at 20 frames (35.3 dB); unweighted, x-f at
  10x (34.1 dB) and temporal TV at 3.2x (35.7 dB; docs/benchmarks.md, "Multi-coil: against BART pics").
- **Joint grid of method and weight**: each CS method's default weights times ``10 ** e`` for
  ``e`` in ``COARSE_EXPONENTS`` (x1/10 .. x10), view sharing once; then the best candidate's grid is
  extended outwards while its best weight sits on the edge, and refined half a step either side.
- **Cheap scoring**: with Cartesian row masks the problem separates along the readout
  (:mod:`napari_dynmri.solvers.operator`), so candidates are scored on ``score_columns`` evenly
  spaced image columns, every fold and weight of a method solved as one batch (the held-out error of
  a column subset is a stratified sample of the whole sum, by Parseval along the readout). Mean
  regret with 8 columns 0.37 dB, with all 0.41 dB. Scoring with fewer iterations than the final
  solve is not done: at 50 of 100 iterations the mean regret grew to 1.2 dB.
  Coil data are scored on ``SCORE_COILS`` SVD virtual coils (:func:`scoring_coils`): the same
  choice in half the time on the multi-coil benchmark.
- **Screening** (``SCREEN_MARGIN``, ``CrossValidation.screen_margin``): every candidate is solved
  on the first half of the folds; one whose error there exceeds the best error there so far by more
  than 10 % is not solved on the other half (``Selection.screened`` keeps its half score), the
  others are scored on every fold. A candidate that far behind on half the held-out lines does not
  win on all of them: on the 51 stress scans of ``benchmarks/selection.py`` (R = 4, 8, 12) cs-auto
  chose the same candidate with and without screening, with 5 to 16 of 18 to 20 candidates screened out
  (``benchmarks/selection.py screening``); on the multi-coil benchmark the cross-validation took
  23 s instead of 59 s, with the same choice (docs/benchmarks.md, "Speed of the cross-validated
  default").

Lines are ``(frame, row)`` pairs when the mask samples whole rows (Cartesian phase encoding along
``H``), single k-space samples otherwise (then every column is scored). "Always sampled" means
sampled in every frame (the centre rows of the project's masks).

The single-split helpers (:func:`holdout_masks`, :func:`holdout_error`) serve the network's scan
adaptation (:mod:`napari_dynmri.recon.adapt`), which needs one fixed set of lines to stop on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from napari_dynmri.physics.masks import is_row_mask
from napari_dynmri.solvers.loop import ReconCancelled

DEFAULT_HOLDOUT_FRACTION = 0.1
DEFAULT_HOLDOUT_SEED = 0
DEFAULT_FOLDS = 10
DEFAULT_SEED = 0
WEIGHTINGS = ("importance", "uniform")
DEFAULT_WEIGHTING = "importance"
COIL_WEIGHTING = "uniform"
# image columns the candidates are scored on (row masks; 0 scores every column)
DEFAULT_SCORE_COLUMNS = 8
# a candidate whose error on the first half of the folds exceeds the best one's there by this fraction
# is not solved on the other half (screened out)
SCREEN_MARGIN = 0.1
# virtual coils (SVD) that coil data are scored on; the final solve keeps every coil
SCORE_COILS = 4
# weight factors 10**e; the grid is extended by COARSE_STEP while the best sits on its edge (up to
# EXPONENT_LIMIT), then refined by half a step either side
COARSE_EXPONENTS = (-1.0, -0.5, 0.0, 0.5, 1.0)
COARSE_STEP = 0.5
EXPONENT_LIMIT = 2.0


class Family(Protocol):
    """A kind of candidate: a method, tuned by a weight factor or not (``tunable``).

    ``predict(problem, factors, iterations, should_stop)`` reconstructs each problem of the
    batch ``problem`` (a :class:`~napari_dynmri.solvers.operator.KtProblem` whose leading axis runs over
    ``len(factors)`` problems) with its default weights times the factor, and returns the
    normalised layout images (torch, the problem's shape).
    """

    name: str
    tunable: bool

    def predict(self, problem, factors: np.ndarray, iterations: int | None, should_stop): ...


@dataclass(frozen=True)
class CrossValidation:
    """How candidates are scored: folds, seed, weighting (None: ``DEFAULT_WEIGHTING``, ``COIL_WEIGHTING`` for
    coil data), scored columns, scoring iterations (None: the method's), screening margin (``inf``: none)."""

    folds: int = DEFAULT_FOLDS
    seed: int = DEFAULT_SEED
    weighting: str | None = None
    score_columns: int = DEFAULT_SCORE_COLUMNS
    iterations: int | None = None
    screen_margin: float = SCREEN_MARGIN

    def __post_init__(self):
        if int(self.folds) != self.folds or self.folds < 2:
            raise ValueError(f"cross-validation needs at least 2 folds, got {self.folds}")
        if self.weighting is not None and self.weighting not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {self.weighting!r}; choose one of {', '.join(WEIGHTINGS)}")
        if self.score_columns < 0:
            raise ValueError(f"score_columns must be >= 0, got {self.score_columns}")
        if self.iterations is not None and self.iterations < 1:
            raise ValueError(f"scoring iterations must be >= 1, got {self.iterations}")
        if not self.screen_margin >= 0:  # also refuses nan
            raise ValueError(f"the screening margin must be >= 0 (inf: no screening), got {self.screen_margin}")


def candidate_label(family: str, exponent: float | None) -> str:
    """``"cs-xf x3.16"`` (a method at ``10 ** exponent`` times its default weights) or the bare family name."""
    return family if exponent is None else f"{family} x{10 ** exponent:.3g}"


@dataclass
class Selection:
    """The chosen candidate (``family``, weight ``factor``) and every candidate's scores.

    ``scores[label]`` holds ``{"importance": ..., "uniform": ...}``, each the held-out error summed
    over folds relative to the held-out signal; ``screened[label]`` the same over the first half of the
    folds, for the candidates screened out there; ``family`` is None when there was nothing to hold out.
    """

    family: str | None
    factor: float = 1.0
    scores: dict = field(default_factory=dict)
    screened: dict = field(default_factory=dict)
    folds: int = 0
    weighting: str = DEFAULT_WEIGHTING
    columns: int = 0
    held_out_lines: int = 0

    def summary(self) -> dict:
        """A JSON-ready record for ``settings``: the choice, the folds and every candidate's score."""
        chosen = min(self.scores, key=lambda label: self.scores[label][self.weighting]) if self.scores else None
        return {
            "chosen": chosen,
            "folds": self.folds,
            "weighting": self.weighting,
            "scored_columns": self.columns,
            "held_out_lines": self.held_out_lines,
            "scores": {label: {key: round(value, 6) for key, value in score.items()}
                       for label, score in self.scores.items()},
            "screening_folds": screening_folds(self.folds)[0].size if self.screened else self.folds,
            "screened_out": {label: {key: round(value, 6) for key, value in score.items()}
                             for label, score in self.screened.items()},
        }


def _lines(mask: np.ndarray) -> tuple[np.ndarray, bool]:
    rows_only = is_row_mask(mask)
    return (mask[..., 0] if rows_only else mask), rows_only


def kfold_masks(mask: np.ndarray, folds: int = DEFAULT_FOLDS, seed: int = DEFAULT_SEED
                ) -> tuple[np.ndarray, np.ndarray]:
    """Split the measured lines of ``mask`` (bool ``(T, H, W)``) into ``folds`` groups: ``(fit, held)``, bool ``(K, T, H, W)``.

    Every measured line that is not sampled in every frame is in exactly one ``held[k]``; ``fit[k]``
    is ``mask`` without it. Groups differ in size by at most one line; ``K`` is at most the number
    of such lines (zero when there are none: then both arrays are empty).
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 3:
        raise ValueError(f"mask must be (T, H, W), got shape {mask.shape}")
    if int(folds) != folds or folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    lines, rows_only = _lines(mask)
    candidates = np.flatnonzero(lines & ~lines.all(axis=0, keepdims=True))
    count = min(int(folds), candidates.size)
    order = np.random.default_rng(seed).permutation(candidates)
    held_lines = np.zeros((count, lines.size), dtype=bool)
    for k in range(count):
        held_lines[k, order[k::count]] = True
    held_lines = held_lines.reshape(count, *lines.shape)
    held = np.broadcast_to(held_lines[..., None], (count, *mask.shape)) if rows_only else held_lines
    held = np.ascontiguousarray(held)
    return mask[None] & ~held, held


def holdout_masks(
    mask: np.ndarray, fraction: float = DEFAULT_HOLDOUT_FRACTION, seed: int = DEFAULT_HOLDOUT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``mask`` (bool ``(T, H, W)``) into disjoint ``(fit, held_out)`` masks whose union is ``mask``.

    ``held_out`` holds ``round(fraction * n)`` of the ``n`` measured lines that are not sampled
    in every frame (at least one when ``n > 0``); it is all False when there are none.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 3:
        raise ValueError(f"mask must be (T, H, W), got shape {mask.shape}")
    if not 0 < fraction < 1:
        raise ValueError(f"the held-out fraction must be between 0 and 1, got {fraction}")
    lines, rows_only = _lines(mask)
    candidates = np.flatnonzero(lines & ~lines.all(axis=0, keepdims=True))
    held_lines = np.zeros(lines.size, dtype=bool)
    if candidates.size:
        count = max(1, int(round(fraction * candidates.size)))
        held_lines[np.random.default_rng(seed).choice(candidates, size=count, replace=False)] = True
    held_lines = held_lines.reshape(lines.shape)
    held = np.broadcast_to(held_lines[..., None], mask.shape) if rows_only else held_lines
    held = np.ascontiguousarray(held)
    return mask & ~held, held


def unsampled_weights(mask: np.ndarray) -> np.ndarray:
    """``(1 - p) / p`` per k-space position (float ``(T, H, W)``), ``p`` the fraction of frames sampling it."""
    probability = np.asarray(mask, dtype=bool).mean(axis=0, keepdims=True)
    weights = np.where(probability > 0, (1 - probability) / np.maximum(probability, 1e-12), 0.0)
    return np.broadcast_to(weights, mask.shape)


def holdout_error(image: np.ndarray, kspace: np.ndarray, held_out: np.ndarray, weights: np.ndarray) -> float:
    """``sum_h w |F x - y|^2 / sum_h w |y|^2`` over held-out samples ``h``: how badly ``image`` predicts them."""
    from napari_dynmri.physics.fft import fft2c

    predicted = fft2c(np.asarray(image, dtype=np.complex64))[held_out]
    measured = np.asarray(kspace)[held_out]
    weights = np.asarray(weights)[held_out]
    reference = float(np.sum(weights * np.abs(measured) ** 2))
    return float(np.sum(weights * np.abs(predicted - measured) ** 2) / max(reference, 1e-30))


def score_columns(width: int, count: int):
    """``count`` evenly spaced image columns of ``width`` (all when ``count`` is 0 or >= ``width``)."""
    if count <= 0 or count >= width:
        return None
    return np.unique(np.linspace(0, width - 1, count).round().astype(int))


class HeldOutScorer:
    """Held-out errors of batched fold reconstructions against a scan's full measurements (layout, torch).

    ``problem``: the scan's :class:`~napari_dynmri.solvers.operator.KtProblem` (all its lines);
    ``mask``: its bool ``(T, H, W)`` mask; ``held``: bool ``(K, T, H, W)`` held-out masks.
    """

    def __init__(self, problem, mask: np.ndarray, held: np.ndarray):
        self.problem = problem
        self.held = problem.layout(held)  # (K, ...)
        importance = np.broadcast_to(unsampled_weights(mask), mask.shape).astype(np.float32)
        self.weights = {"importance": problem.layout(importance), "uniform": None}
        signal = problem.y.abs() ** 2 * self.held
        self.reference = {name: self._summed(signal if w is None else signal * w).double()
                          for name, w in self.weights.items()}  # (K,) held-out signal per fold

    def _per_column(self, errors):
        """Errors ``(..., [C,] T, ...)`` in the layout summed to one value per image column ``(..., W')``."""
        if self.problem.coils:
            errors = errors.sum(-4)
        if self.problem.rows:  # (..., T, W', H)
            return errors.sum(dim=(-3, -1))
        return errors.sum(dim=(-3, -2))

    def _summed(self, errors):
        """Errors ``(..., [C,] T, ...)`` in the layout summed to one value per problem ``(...)``."""
        return self._per_column(errors).sum(-1)

    def fold_errors(self, images, subset, per_column: bool = False) -> dict:
        """``images`` ``(len(subset) * F, ...)`` (fold-major) of the folds ``subset`` (an index array) ->
        ``{weighting: (len(subset), F) float64 tensor}`` of their held-out errors (``(len(subset), F, W')``,
        one per image column, with ``per_column``)."""
        held = self.held[torch_index(subset, self.held.device)]
        residual = (self.problem.kspace_of(images) - self.problem.y).abs() ** 2
        residual = residual.reshape(len(subset), -1, *residual.shape[1:]) * held[:, None]
        reduce = self._per_column if per_column else self._summed
        return {name: reduce(residual if w is None else residual * w).double() for name, w in self.weights.items()}

    def column_errors(self, images, folds: int) -> dict:
        """``images`` ``(K * F, ...)`` of every fold -> ``{weighting: (F, W')}`` summed over the folds (the
        per-column records of ``benchmarks/selection.py``)."""
        return {name: value.sum(0) for name, value in self.fold_errors(images, np.arange(folds), True).items()}

    def relative(self, errors: dict, subset) -> dict:
        """Fold errors ``{weighting: (len(subset), F)}`` -> ``{weighting: (F,)}`` summed over the folds and divided
        by their held-out signal."""
        index = torch_index(subset, self.held.device)
        return {name: value.sum(0) / max(float(self.reference[name][index].sum()), 1e-30)
                for name, value in errors.items()}

    def scores(self, images, subset=None) -> list[dict]:
        """``images`` ``(len(subset) * F, ...)`` (fold-major; ``subset`` default: every fold) -> ``F`` dicts of
        errors relative to the held-out signal."""
        subset = np.arange(self.held.shape[0]) if subset is None else np.asarray(subset)
        totals = self.relative(self.fold_errors(images, subset), subset)
        count = next(iter(totals.values())).shape[0]
        return [{name: float(totals[name][i]) for name in totals} for i in range(count)]


def torch_index(subset, device):
    """An index array as a torch index on ``device``."""
    import torch

    return torch.as_tensor(np.asarray(subset, dtype=np.int64), device=device)


def grid_search(tunable: dict[str, bool], score: Callable[[str, list], list[float]]) -> tuple[str, float | None]:
    """The joint search over candidate families and weight exponents; returns the best ``(family, exponent)``.

    ``tunable``: family name -> whether it has a weight (``exponent`` None otherwise);
    ``score(family, exponents)``: the scores of those candidates (lower is better). Every family
    is scored on ``COARSE_EXPONENTS``; while the best candidate's exponent is on the edge of its
    family's grid, the grid is extended by ``COARSE_STEP`` (up to ``EXPONENT_LIMIT``); then the
    best family is refined half a step either side of its best exponent.
    """
    scores: dict[str, dict] = {name: {} for name in tunable}

    def evaluate(name, exponents):
        for exponent, value in zip(exponents, score(name, exponents)):
            scores[name][exponent] = value

    def best():
        return min(((name, e) for name in scores for e in scores[name]), key=lambda key: scores[key[0]][key[1]])

    for name, has_weight in tunable.items():
        evaluate(name, list(COARSE_EXPONENTS) if has_weight else [None])
    name, exponent = best()
    while tunable[name]:  # extend the grid outwards while the best weight is on its edge
        tried = sorted(scores[name])
        step = -COARSE_STEP if exponent == tried[0] else COARSE_STEP if exponent == tried[-1] else 0.0
        if step == 0.0 or abs(exponent + step) > EXPONENT_LIMIT + 1e-9:
            break
        evaluate(name, [exponent + step])
        name, exponent = best()
    if tunable[name]:
        finer = [exponent + d for d in (-COARSE_STEP / 2, COARSE_STEP / 2) if exponent + d not in scores[name]]
        if finer:
            evaluate(name, finer)
        name, exponent = best()
    return name, exponent


def screening_folds(folds: int) -> tuple[np.ndarray, np.ndarray]:
    """The folds every candidate is solved on (the first half) and those only the unscreened ones are (the rest);
    with fewer than 4 folds, every fold is in the first group."""
    order = np.arange(folds)
    return (order, order[:0]) if folds < 4 else (order[: folds // 2], order[folds // 2:])


def planned_solves(folds: int, tunable: list[bool]) -> int:
    """The most candidate-fold solves :func:`cross_validate` can make (the progress total): the coarse grid
    of every family, the extensions up to ``EXPONENT_LIMIT`` and the two refinements of the best."""
    extensions = round((EXPONENT_LIMIT - max(COARSE_EXPONENTS)) / COARSE_STEP)
    coarse = sum(len(COARSE_EXPONENTS) if has_weight else 1 for has_weight in tunable)
    return folds * (coarse + (extensions + 2 if any(tunable) else 0))


def scoring_coils(kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coil-first k-space ``(C, T, H, W)`` and its maps ``(C, H, W)`` compressed to ``SCORE_COILS`` virtual coils.

    The SVD of the measured samples (:func:`napari_dynmri.physics.coils.coil_compression`) is applied to
    the data and the maps alike, so the SENSE model holds in the kept subspace, and its rows are
    orthonormal, so the maps still satisfy ``sum_c |S_c|^2 <= 1``. Scoring needs only the ranking of
    the candidates: on the pig slice of ``benchmarks/multicoil_vs_bart.py`` (8 coils, 20 frames) the
    4 virtual coils keep 99.5 % of the energy, cs-auto makes the same choice (within 0.02 dB when it
    also solves on them) and scores in half the time.
    """
    from napari_dynmri.physics.coils import coil_compression

    matrix, _ = coil_compression(np.moveaxis(kspace, 0, 1), SCORE_COILS, mask[:, None])
    return (np.einsum("vc,cthw->vthw", matrix, kspace).astype(np.complex64),
            np.einsum("vc,chw->vhw", matrix, maps).astype(np.complex64))


def cross_validate(
    kspace: np.ndarray,
    mask: np.ndarray,
    families: list,
    settings: CrossValidation = CrossValidation(),
    *,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    maps: np.ndarray | None = None,
) -> Selection:
    """Choose among ``families`` (each a :class:`Family`) and their weights by K-fold cross-validation.

    ``kspace``: complex ``(T, H, W)``, or ``(C, T, H, W)`` with coil ``maps`` ``(C, H, W)``; ``mask``: bool
    ``(T, H, W)``. Candidates are screened on the first half of the folds (:func:`screening_folds`,
    ``settings.screen_margin``). ``progress(done, total)`` counts
    candidate-fold solves against :func:`planned_solves` (it jumps to the total at the end when the
    grid needed no extension or candidates were screened out); ``should_stop()`` is polled
    between and inside solves (True raises :class:`~napari_dynmri.solvers.loop.ReconCancelled`).
    """
    import torch

    from napari_dynmri.solvers.operator import KtProblem

    fit, held = kfold_masks(mask, settings.folds, settings.seed)
    folds = fit.shape[0]
    weighting = settings.weighting or (DEFAULT_WEIGHTING if maps is None else COIL_WEIGHTING)
    if folds < 2:
        return Selection(None, weighting=weighting)
    columns = score_columns(mask.shape[-1], settings.score_columns) if is_row_mask(mask) else None
    if maps is not None and maps.shape[0] > SCORE_COILS:
        kspace, maps = scoring_coils(kspace, mask, maps)
    by_name = {family.name: family for family in families}
    evaluated: dict[str, dict] = {}
    screened: dict[str, dict] = {}
    first, rest = screening_folds(folds)
    partial = {}  # label -> error on the first folds, for screening
    budget = {"done": 0, "total": planned_solves(folds, [family.tunable for family in families])}
    with torch.inference_mode():
        problem = KtProblem.from_kspace(kspace, mask, device=device, columns=columns, maps=maps)
        scorer = HeldOutScorer(problem, mask, held)

        def solve(name, factors, subset) -> dict:
            if should_stop is not None and should_stop():
                raise ReconCancelled("the cross-validation was cancelled")
            batch = problem.restricted(fit[subset]).repeated(len(factors))
            images = by_name[name].predict(batch, np.tile(factors, len(subset)), settings.iterations, should_stop)
            budget["done"] += len(subset) * len(factors)
            if progress is not None:
                progress(budget["done"], budget["total"])
            return scorer.fold_errors(images, subset)

        def score(name, exponents):
            labels = [candidate_label(name, e) for e in exponents]
            factors = np.array([1.0 if e is None else 10.0 ** e for e in exponents])
            errors = solve(name, factors, first)
            kept = list(range(len(labels)))
            if rest.size:
                screen = scorer.relative(errors, first)
                partial.update({label: float(screen[weighting][i]) for i, label in enumerate(labels)})
                cutoff = min(partial.values()) * (1.0 + settings.screen_margin)
                kept = [i for i, label in enumerate(labels) if partial[label] <= cutoff]
                screened.update({label: {key: float(screen[key][i]) for key in screen}
                                 for i, label in enumerate(labels) if i not in kept})
            if kept:
                if rest.size:
                    more = solve(name, factors[kept], rest)
                    errors = {key: torch.cat([errors[key][:, kept], more[key]]) for key in errors}
                totals = scorer.relative(errors, np.concatenate([first, rest]))
                evaluated.update({labels[i]: {key: float(totals[key][j]) for key in totals}
                                  for j, i in enumerate(kept)})
            return [evaluated[label][weighting] if label in evaluated else np.inf for label in labels]

        name, exponent = grid_search({family.name: family.tunable for family in families}, score)
    if progress is not None and budget["done"] < budget["total"]:
        progress(budget["total"], budget["total"])
    return Selection(
        family=name,
        factor=1.0 if exponent is None else float(10.0 ** exponent),
        scores=evaluated,
        screened=screened,
        folds=folds,
        weighting=weighting,
        columns=mask.shape[-1] if columns is None else len(columns),
        held_out_lines=int(held.sum() // (mask.shape[-1] if is_row_mask(mask) else 1)),
    )
