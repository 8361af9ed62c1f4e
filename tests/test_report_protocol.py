"""The statistics and the budget rule of ``benchmarks.report``, which write the verdicts of
docs/results.md: paired intervals against scipy, the plateau slope of a known line, and when a run is
continued."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from benchmarks.report import page, protocol
from benchmarks.report import stats as report_stats


def _result(psnrs, iterations=1000, trained=True):
    result = {"psnr": [float(np.mean(psnrs)), float(np.std(psnrs))], "ssim": [0.9, 0.01], "iterations": iterations,
              "per_sequence": [{"sequence": f"s{i}", "psnr": p} for i, p in enumerate(psnrs)]}
    if trained:
        result["train_seconds"] = 1.0
    return result


def _write_validation(folder: Path, points: dict[int, float]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["iteration,val_psnr"] + [f"{i},{v}" for i, v in points.items()]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")


def test_paired_interval_is_scipys_paired_t_interval():
    first, second = [30.0, 31.5, 29.0, 33.0, 32.0], [30.9, 32.0, 29.2, 34.1, 32.3]
    paired = report_stats.paired_difference({"a": _result(first), "b": _result(second)}, "a", "b")
    expected = stats.ttest_rel(second, first).confidence_interval(0.95)
    assert paired.mean == pytest.approx(np.mean(np.subtract(second, first)))
    assert (paired.low, paired.high) == pytest.approx((expected.low, expected.high))
    assert (paired.wins, paired.count) == (5, 5)
    assert report_stats.paired_difference({"a": _result(first)}, "a", "b") is None


@pytest.mark.parametrize("sign, second, word", [
    (+1, [31.0, 32.6, 30.2, 34.0, 33.1], "**reproduced**"),
    (-1, [31.0, 32.6, 30.2, 34.0, 33.1], "**contradicted**"),
    (+1, [31.0, 31.0, 28.5, 33.5, 31.5], "**not resolved**"),
])
def test_verdict_reads_the_interval_on_the_reports_side(tmp_path, sign, second, word):
    results = {"a": _result([30.0, 31.5, 29.0, 33.0, 32.0]), "b": _result(second)}
    for name in results:
        _write_validation(tmp_path / name, {700: 30.0, 800: 30.0, 900: 30.0, 1000: 30.0})
    sentence = page.verdict(protocol.Claim("b beats a", "a", "b", sign), results, tmp_path)
    assert word in sentence
    assert "Still rising" not in sentence


def test_plateau_slope_of_a_straight_line(tmp_path):
    # 0.4 dB per 100 iterations from 600 on, flat before: the last 30 % sees only the rise
    _write_validation(tmp_path, {i: 30.0 + max(0, i - 600) * 0.004 for i in range(100, 1001, 100)})
    assert report_stats.plateau_slope(tmp_path, 1000, 0.3) == pytest.approx(0.4)
    assert report_stats.plateau_slope(tmp_path, 1000, 1.0) < 0.4


def test_a_rising_run_is_continued_until_flat_or_capped(tmp_path):
    run = tmp_path / "r"
    rising = {i: 30.0 + i * 0.005 for i in range(100, 1001, 100)}  # 0.5 dB / 100 it.
    _write_validation(run, rising)
    assert report_stats.next_budget(None, run, 1000, 3000) == 1000
    assert report_stats.next_budget(_result([30.0] * 5, 1000), run, 1000, 3000) == 2000
    assert report_stats.next_budget(_result([30.0] * 5, 1000), run, 1000, 1000) is None  # at the cap
    assert page.still_rising({"r": _result([30.0] * 5, 1000)}, "r", tmp_path)
    _write_validation(run, {**rising, **{i: 35.0 + (i % 200) * 1e-3 for i in range(1100, 2001, 100)}})
    assert report_stats.next_budget(_result([30.0] * 5, 2000), run, 1000, 3000) is None  # flat since 1100
    assert report_stats.next_budget(_result([30.0] * 5, 2000), run, 1000, 3000, floor=3000) == 3000  # on request
    assert report_stats.next_budget(_result([30.0] * 5, 3000), run, 1000, 3000, floor=4000) is None  # still capped
    assert not page.still_rising({"r": _result([30.0] * 5, 2000)}, "r", tmp_path)


def test_rising_runs_are_flagged_in_the_verdicts(tmp_path):
    results = {"a": _result([30.0, 31.5, 29.0, 33.0, 32.0]), "b": _result([31.0, 32.6, 30.2, 34.0, 33.1])}
    _write_validation(tmp_path / "a", {i: 30.0 for i in range(100, 1001, 100)})
    _write_validation(tmp_path / "b", {i: 30.0 + i * 0.005 for i in range(100, 1001, 100)})
    sentence = page.verdict(protocol.Claim("b beats a", "a", "b", +1), results, tmp_path)
    assert "Still rising when scored: b at 1000 iterations" in sentence


@pytest.mark.parametrize("iterations, usable", [(1000, True), (3000, True), (0, False), (1500, False), (4000, False)])
def test_only_scores_at_a_budget_step_are_reused(tmp_path, iterations, usable):
    (tmp_path / protocol.EVAL_FILE).write_text(json.dumps(_result([30.0] * 5, iterations)))
    assert (protocol.scored(tmp_path, 1000, 3000) is not None) == usable


def test_runs_of_different_budgets_are_also_compared_at_the_smaller_one(tmp_path):
    early = _result([30.0, 31.0, 29.0, 33.0, 32.0], 1000)
    later = {**_result([31.0, 32.5, 29.5, 34.0, 33.0], 2000), "earlier": [early]}
    other = _result([30.5, 31.2, 29.4, 33.1, 32.6], 1000)
    results = {"a": other, "b": later}
    for name in results:
        _write_validation(tmp_path / name, {i: 30.0 for i in range(100, 2001, 100)})
    budget, paired = report_stats.matched_difference(results, "a", "b")
    assert budget == 1000
    assert paired.mean == pytest.approx(np.mean(np.subtract([30.0, 31.0, 29.0, 33.0, 32.0],
                                                            [30.5, 31.2, 29.4, 33.1, 32.6])))
    assert "at 1000 iterations each: " in page.verdict(protocol.Claim("b beats a", "a", "b", +1), results, tmp_path)
    assert report_stats.matched_difference({"a": other, "b": early}, "a", "b") is None  # same budget
    assert report_stats.matched_difference({"a": other, "b": {**later, "earlier": []}}, "a", "b") is None


def test_budget_table_shows_what_continued_training_changed(tmp_path):
    run = tmp_path / "r"
    _write_validation(run, {i: 30.0 + min(i, 1000) * 0.005 for i in range(100, 2001, 100)})
    results = {"r": {**_result([31.0] * 5, 2000), "earlier": [_result([30.0] * 5, 1000)]},
               "s": _result([30.0] * 5, 1000)}
    table = page.budget_markdown(["r", "s"], results, tmp_path)
    assert "| r | 30.00 (slope +0.50: rising) | 31.00 (slope +0.00: flat) | +1.00 |" in table
    assert "| s |" not in table  # not continued
    assert page.budget_markdown(["s"], results, tmp_path) == ""
