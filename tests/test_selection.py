"""Cross-validated choice of method and weight, the solvers layer it runs on, and the trust map."""

import numpy as np
import pytest
import torch

from napari_dynmri.metrics import psnr
from napari_dynmri.physics import fft2c, ifft2c
from napari_dynmri.recon import ReconCancelled, get_method
from napari_dynmri.recon.sparse import lps_objective, xf_objective
from napari_dynmri.recon.trust import fold_spread
from napari_dynmri.recon.weight import (
    COARSE_EXPONENTS,
    SCREEN_MARGIN,
    CrossValidation,
    cross_validate,
    grid_search,
    holdout_masks,
    kfold_masks,
    planned_solves,
)
from napari_dynmri.solvers import algorithms
from napari_dynmri.solvers.algorithms import LowRankSparse, TemporalTV, XfSparsity
from napari_dynmri.solvers.loop import run
from napari_dynmri.solvers.operator import KtProblem

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def scan(cs_acquisition):
    """``(target, mask, kspace)`` of the shared phantom acquisition (8 x 48 x 48, R = 4)."""
    return cs_acquisition[:3]


def test_folds_are_disjoint_and_cover_every_measured_line_once(scan):
    _, mask, _ = scan
    fit, held = kfold_masks(mask, 4, seed=1)
    assert fit.shape == held.shape == (4, *mask.shape)
    rows = held[..., 0]
    assert np.array_equal(held, np.broadcast_to(rows[..., None], held.shape))  # whole lines
    assert rows.sum(axis=0).max() == 1  # disjoint
    always = mask[..., 0].all(axis=0)
    measured = mask[..., 0] & ~always[None]
    assert np.array_equal(rows.any(axis=0), measured)  # every line not always sampled, once
    sizes = rows.reshape(4, -1).sum(axis=1)
    assert sizes.max() - sizes.min() <= 1
    for k in range(4):
        assert np.array_equal(fit[k] | held[k], mask) and not (fit[k] & held[k]).any()
    assert np.array_equal(kfold_masks(mask, 4, seed=1)[1], held)
    assert not np.array_equal(kfold_masks(mask, 4, seed=2)[1], held)
    assert kfold_masks(np.ones_like(mask), 4)[0].shape[0] == 0  # nothing to hold out
    with pytest.raises(ValueError, match="2 folds"):
        kfold_masks(mask, 1)


class _Fixed:
    """A candidate family whose every reconstruction is one fixed image (per weight exponent)."""

    def __init__(self, name, images, tunable=False):
        self.name, self.images, self.tunable = name, images, tunable

    def predict(self, problem, factors, iterations=None, should_stop=None):
        factors = np.atleast_1d(factors)
        images = [self.images(float(np.log10(f))) if self.tunable else self.images for f in factors]
        return problem.to_layout(np.stack(images)).reshape(len(factors), *problem.y.shape[-3:])


def test_folds_pick_the_candidate_the_single_split_gets_wrong(scan):
    # "lucky" is exact on the lines of the old single split and wrong on every other measured
    # line; "honest" is exact everywhere but on that split's lines. The split prefers "lucky";
    # every fold of a K-fold sees lucky's errors, and honest is truly the better image.
    target, mask, kspace = scan
    _, split = holdout_masks(mask, 0.1, 0)
    k_target = fft2c(target)
    rng = np.random.default_rng(0)
    noise = 0.3 * np.abs(k_target).mean() * (rng.standard_normal(mask.shape) + 1j * rng.standard_normal(mask.shape))
    lucky = ifft2c(np.where(split, k_target, k_target + noise))
    honest = ifft2c(np.where(split, k_target + noise, k_target))
    assert psnr(honest, target) > psnr(lucky, target)
    families = [_Fixed("lucky", lucky), _Fixed("honest", honest)]
    settings = CrossValidation(folds=5, score_columns=0)
    selection = cross_validate(kspace, mask, families, settings)
    assert selection.family == "honest"
    assert selection.scores["honest"]["importance"] < selection.scores["lucky"]["importance"]
    assert selection.folds == 5 and selection.held_out_lines == int(
        (mask[..., 0] & ~mask[..., 0].all(axis=0)).sum())
    # a one-split scheme (fold 0 of a split with the old lines) ranks them the other way
    from napari_dynmri.recon.weight import HeldOutScorer

    with torch.inference_mode():
        problem = KtProblem.from_kspace(kspace, mask)
        scorer = HeldOutScorer(problem, mask, split[None])
        scores = [scorer.scores(family.predict(problem, [1.0]))[0]["importance"] for family in families]
    assert scores[0] < scores[1]


def test_joint_search_finds_a_weight_off_the_coarse_grid_and_records_it(scan):
    # a tunable family whose error grows with |e - 1.75|: the best weight lies beyond the coarse
    # grid's edge (x10), so the grid is extended and refined; a fixed family is worse everywhere
    target, mask, kspace = scan
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(target.shape) + 1j * rng.standard_normal(target.shape)

    def images(exponent):
        return target + 0.05 * abs(exponent - 1.75) * noise

    families = [_Fixed("tuned", images, tunable=True), _Fixed("fixed", target + 0.2 * noise)]
    seen = []
    selection = cross_validate(kspace, mask, families, CrossValidation(folds=4),
                               progress=lambda done, total: seen.append((done, total)))
    assert selection.family == "tuned" and selection.factor == pytest.approx(10**1.75)
    labels = set(selection.scores)
    assert {"tuned x31.6", "tuned x56.2", "tuned x100"} <= labels
    assert "fixed" in selection.screened  # worse everywhere: scored on the first half of the folds only
    assert max(float(label.split("x")[1]) for label in labels if label.startswith("tuned")) <= 100.0 + 1e-6
    assert all(total == planned_solves(4, [True, False]) for _, total in seen)
    assert [done for done, _ in seen] == sorted({done for done, _ in seen})
    summary = selection.summary()
    assert summary["chosen"] == "tuned x56.2" and summary["folds"] == 4
    assert set(summary["screened_out"]["fixed"]) == {"importance", "uniform"} and summary["screening_folds"] == 2
    with pytest.raises(ReconCancelled):
        cross_validate(kspace, mask, families, CrossValidation(folds=4), should_stop=lambda: True)


class _Counting(_Fixed):
    """A :class:`_Fixed` family that records how many fold problems it was asked to solve."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.solved = 0

    def predict(self, problem, factors, iterations=None, should_stop=None):
        self.solved += len(np.atleast_1d(factors))
        return super().predict(problem, factors, iterations, should_stop)


def test_screening_solves_a_clearly_worse_candidate_on_half_the_folds_only(scan):
    # "near" is 5 % worse than "best" in error (inside SCREEN_MARGIN), "far" is 4x worse: near is scored
    # on every fold, far on the first half only, and the choice is the one every fold would make
    target, mask, kspace = scan
    rng = np.random.default_rng(2)
    noise = rng.standard_normal(target.shape) + 1j * rng.standard_normal(target.shape)
    families = [_Counting(name, target + amplitude * noise)
                for name, amplitude in (("best", 0.05), ("far", 0.2), ("near", 0.05 * np.sqrt(1.05)))]
    selection = cross_validate(kspace, mask, families, CrossValidation(folds=6, score_columns=0))
    assert selection.family == "best" and set(selection.scores) == {"best", "near"}
    assert set(selection.screened) == {"far"} and [f.solved for f in families] == [6, 3, 6]
    assert selection.scores["best"]["importance"] < selection.scores["near"]["importance"]
    assert selection.screened["far"]["importance"] > (1 + SCREEN_MARGIN) * selection.scores["best"]["importance"]
    unscreened = cross_validate(kspace, mask, families, CrossValidation(folds=6, score_columns=0, screen_margin=np.inf))
    assert not unscreened.screened and [f.solved for f in families] == [12, 9, 12]  # 6 more each
    assert unscreened.family == "best" and unscreened.scores["best"] == pytest.approx(selection.scores["best"])
    for margin in (-0.1, float("nan")):
        with pytest.raises(ValueError, match="screening margin"):
            CrossValidation(screen_margin=margin)


def test_column_errors_are_the_fold_errors_split_by_column(scan):
    from napari_dynmri.recon.weight import HeldOutScorer

    _, mask, kspace = scan
    fit, held = kfold_masks(mask, 4, 0)
    with torch.inference_mode():
        problem = KtProblem.from_kspace(kspace, mask)
        scorer = HeldOutScorer(problem, mask, held)
        images = problem.restricted(fit).zero_filled()  # (K, ...): one candidate per fold
        columns = scorer.column_errors(images, 4)
        folds = scorer.fold_errors(images, np.arange(4))
    for weighting in ("importance", "uniform"):
        assert columns[weighting].shape == (1, mask.shape[-1])
        assert float(columns[weighting].sum()) == pytest.approx(float(folds[weighting].sum()), rel=1e-5)
        assert float(folds[weighting].min()) > 0  # zero filling predicts no held-out line


def test_grid_search_stays_inside_the_limit_and_off_the_edge():
    calls = []

    def score(name, exponents):
        calls.append((name, exponents))
        return [abs(e - 0.6) if name == "a" else 5.0 for e in exponents] if name == "a" else [5.0] * len(exponents)

    assert grid_search({"a": True, "b": False}, score) == ("a", 0.5)
    assert calls[0] == ("a", list(COARSE_EXPONENTS)) and calls[-1] == ("a", [0.25, 0.75])


@pytest.mark.parametrize("algorithm, weights", [
    (XfSparsity, {"lam": [0.002, 0.02]}),
    (LowRankSparse, {"lam": [0.002, 0.02], "lam_lowrank": [0.01, 0.05]}),
    (TemporalTV, {"lam": [0.002, 0.02]}),
])
def test_batched_solves_match_one_at_a_time(scan, algorithm, weights):
    _, mask, kspace = scan
    fit, _ = kfold_masks(mask, 3)
    with torch.inference_mode():
        problem = KtProblem.from_kspace(kspace, mask)
        batch = problem.restricted(fit).repeated(2)
        tiled = {key: np.tile(value, 3) for key, value in weights.items()}
        together, _ = run(algorithm(batch, **tiled), 15)
        for index in range(6):
            fold, which = divmod(index, 2)
            alone = problem.restricted(fit[fold:fold + 1])
            single, _ = run(algorithm(alone, **{key: value[which] for key, value in weights.items()}), 15)
            torch.testing.assert_close(together[index], single[0], atol=2e-5, rtol=1e-4)


def test_a_column_subset_is_the_same_problem_restricted(scan):
    # row masks separate along the readout: the x-f solution on 5 columns equals those columns of the full one
    _, mask, kspace = scan
    columns = np.array([3, 11, 19, 27, 35, 47])
    with torch.inference_mode():
        full = KtProblem.from_kspace(kspace, mask)
        part = KtProblem.from_kspace(kspace, mask, columns=columns)
        image_full = full.image(run(XfSparsity(full, 0.01), 20)[0])
        image_part = part.image(run(XfSparsity(part, 0.01), 20)[0])
    np.testing.assert_allclose(image_part, image_full[..., columns], atol=1e-5)


def test_the_row_layout_matches_the_two_dimensional_one(scan):
    # a mask that differs in one column takes the 2D path; on the other columns both layouts agree
    _, mask, kspace = scan
    odd = mask.copy()
    odd[:, :, 0] = True
    with torch.inference_mode():
        rows = KtProblem.from_kspace(kspace, mask)
        two_d = KtProblem.from_kspace(kspace, odd)
        assert rows.rows and not two_d.rows
        x = rows.zero_filled()
        np.testing.assert_allclose(rows.image(rows.normal(x)), rows.image(rows.consistent(x) - x + rows.normal(x)),
                                   atol=1e-5)
        for problem in (rows, two_d):  # the adjoint is the adjoint: <A x, k> = <x, A^H k>
            x = torch.randn_like(problem.zero_filled())
            k = torch.randn_like(problem.y)
            lhs = torch.vdot(problem.forward(x).flatten(), k.flatten())
            rhs = torch.vdot(x.flatten(), problem.adjoint(k).flatten())
            assert abs(lhs - rhs) < 1e-3 * abs(lhs)


@pytest.mark.parametrize("spec", ["cs-xf", "cs-lps"])
def test_solver_objective_decreases(scan, spec):
    _, mask, kspace = scan
    zero_filled = ifft2c(kspace)
    scale = np.abs(zero_filled).max()
    method = get_method(spec, device="cpu", lam=0.01)
    values = []
    for iterations in (0, 5, 20, 60):
        with torch.inference_mode():
            problem = KtProblem.from_kspace(kspace, mask)
            solver = getattr(algorithms, method.algorithm)(problem, **method.weights)
            run(solver, iterations)
            if spec == "cs-xf":
                values.append(xf_objective(problem.image(solver.result()), kspace, mask, 0.01 * scale))
            else:
                lowrank, sparse = (problem.image(part) for part in solver.parts())
                sigma = np.linalg.norm(zero_filled.reshape(zero_filled.shape[0], -1), 2)
                values.append(lps_objective(lowrank, sparse, kspace, mask, 0.01 * scale, method.weights["lam_lowrank"] * sigma))
    assert values[-1] < values[1] < values[0], values


def test_cs_auto_records_its_choice_and_every_candidate(scan):
    target, mask, kspace = scan
    result = get_method("cs-auto", device="cpu", iterations=20).reconstruct(kspace, mask)
    settings = result.settings
    assert settings["method"] in ("cs-xf", "cs-lps", "cs-ttv", "view-sharing")
    assert settings["choice"] == "cross-validation"
    record = settings["cross_validation"]
    scores = record["scores"]
    assert {"view-sharing", "cs-xf x1", "cs-lps x0.1", "cs-ttv x10"} <= set(scores) | set(record["screened_out"])
    assert record["chosen"] == min(scores, key=lambda label: scores[label]["importance"])
    assert record["chosen"].startswith(settings["method"])
    assert psnr(result.image, target) > psnr(ifft2c(kspace), target) + 2.0
    assert result.uncertainty is None


def test_trust_map_follows_the_error(scan):
    from scipy.stats import spearmanr

    target, mask, kspace = scan
    method = get_method("cs-xf", device="cpu", lam=0.003, iterations=30, uncertainty=True)
    result = method.reconstruct(kspace, mask)
    image, spread = result.image, result.uncertainty
    assert spread.shape == target.shape and spread.dtype == np.float32 and spread.min() >= 0
    assert spearmanr(spread.ravel(), np.abs(image - target).ravel())[0] > 0.3
    # fully sampled data leave nothing to hold out: no spread
    full = np.ones_like(mask)
    assert not fold_spread(method, fft2c(target), full, 1.0, CrossValidation()).any()


def test_recon_command_saves_the_trust_map(scan, tmp_path):
    import json

    from napari_dynmri.cli import main
    from napari_dynmri.physics import Acquisition
    from napari_dynmri.simulation import simulate

    target, _, _ = scan
    path = tmp_path / "sim.npz"
    simulate(target, Acquisition("vd-random", 4, 6, 1)).save(path)
    out = tmp_path / "recon.npz"
    args = ["recon", str(path), "-o", str(out), "--model", "cs-xf", "--lam", "0.003", "--iterations", "10",
            "--uncertainty", "--device", "cpu"]
    assert main(args) == 0
    with np.load(out) as saved:
        spread, recon = saved["uncertainty"], saved["recon"]
        meta = json.loads(str(saved["meta"]))
    assert spread.shape == recon.shape and spread.dtype == np.float32 and spread.max() > 0
    assert meta["settings"]["weight"] == "fixed"
    assert main(["recon", str(path), "-o", str(tmp_path / "zf.npz"), "--model", "zero-filled", "--uncertainty"]) == 2
