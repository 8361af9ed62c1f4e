"""Reproduce the founding report's six experiment tables on the pig short-axis cines, scaled to a small CPU.

One command trains every distinct configuration once (with one iteration budget for all of them),
scores each on the full-size test sequences of the trainer's 5:1:2 split, and writes
``docs/results.md`` with the six tables and one curve image per table (``docs/images/results_*.png``)::

    python -m benchmarks.report --data ../shared/data/pig_cine/pig_cine_cc0.npz --jobs 2

Protocol (the same for every row): 20 pig short-axis slices split 5:1:2 by sequence (split seed 0:
12 train, 3 validation, 5 test); single-coil Cartesian undersampling with a vd-random mask,
R = 8, 8 centre lines, one fixed mask from a constant seed (``mask.fixed = true``); random 256x16
strips of 8 frames (the whole phase-encoding height, so that the training mask is drawn like the
test mask), batch 1, networks with 16 channels, the edge loss switched on at the report's iteration
100; 1000 iterations per run, continued 1000 at a time (to at most 3000) while the validation PSNR
still rises (least-squares slope over the last 30 % of the run above 0.25 dB per 100 iterations); evaluation on the full 20x256x256 test sequences (sequence ``i`` with
mask seed ``i``), PSNR and SSIM on magnitudes (``napari_dynmri.metrics``), mean ± population std over
the 5 test sequences and paired differences with 95 % intervals (Student t over sequences).

Runs are resumable: ``OUT/<run>/eval.json`` marks a trained and scored budget and is reused (or
continued, when the run had not plateaued); an interrupted training continues from its checkpoint. The default ``--out`` is tracked in git (the
finished run folders are small: weights, model card, metrics, scores) so that a later session on
another machine resumes rather than retrains (a run still to be continued also needs its
``checkpoint/``, which is ignored by default: add it with ``git add -f``). ``--only`` trains a subset, ``--tables-only`` rewrites
the results page from what is finished, ``--jobs N`` trains N runs side by side, one CPU thread each.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from datetime import datetime
from pathlib import Path

import torch

from benchmarks.report.page import write_results
from benchmarks.report.protocol import (
    ACCELERATION,
    CENTER_LINES,
    CHANNELS,
    CLASSICAL,
    DEFAULT_ITERATIONS,
    DEFAULT_OUT,
    EVAL_FILE,
    MASK_KIND,
    MASK_SEED,
    MAX_ITERATIONS,
    PLATEAU_FRACTION,
    ROOT,
    UNTRAINED,
    experiments,
    finished,
    read_json,
    run_config,
    scored,
)
from benchmarks.report.stats import next_budget, plateau_slope
from napari_dynmri.data.sequences import load_sequences, split_sequences
from napari_dynmri.evaluation import evaluate_methods, summarize_scores
from napari_dynmri.models import build_model, save_model
from napari_dynmri.physics import Acquisition
from napari_dynmri.recon import get_method
from napari_dynmri.training import train
from napari_dynmri.training.config import config_from_dict


def train_run(config: dict, log) -> None:
    """Train ``config`` into its output folder, continuing an interrupted run from its checkpoint."""
    folder = Path(config["output"])
    state = read_json(folder / "checkpoint" / "trainer.json")
    if state is not None:
        done = state["iteration"]
        if done > config["iterations"]:
            raise ValueError(f"{folder} holds a run of {done} iterations, more than its budget of "
                             f"{config['iterations']}; use another --out")
        log(f"resuming {folder.name} from iteration {done}")
        train(config_from_dict(config), resume=folder)
    else:
        train(config_from_dict(config), overwrite=folder.exists())


def score(spec: str, sequences, log) -> dict:
    """Per-sequence and summary scores of one method on the test sequences."""
    method = get_method(spec, device="cpu")
    start = time.perf_counter()
    rows = evaluate_methods({method.name: method}, sequences,
                            Acquisition(MASK_KIND, ACCELERATION, CENTER_LINES, MASK_SEED), log=log)[method.name]
    summary = summarize_scores({method.name: rows})[method.name]
    return {
        "psnr": summary["psnr"], "ssim": summary["ssim"], "nmse": summary["nmse"],
        "per_sequence": [{k: row[k] for k in ("sequence", "psnr", "ssim", "nmse", "seconds")} for row in rows],
        "eval_seconds": time.perf_counter() - start,
    }


def score_untrained(folder: Path, sequences, log) -> dict:
    """Save and score the complex CNN as every run builds it before its first step (seed 0)."""
    torch.manual_seed(0)  # as the trainer does before building the model (config seed 0)
    model = build_model("complex", {"channels": CHANNELS})
    save_model(model, folder, {"description": "complex CNN, initial weights of seed 0, not trained"})
    result = score(str(folder), sequences, log)
    result.update(name=UNTRAINED, iterations=0)
    (folder / EVAL_FILE).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


def _machine() -> str:
    """One line describing the CPU, cores and library versions (the page's "machine" row)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count()
    model = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = f"{line.split(':', 1)[1].strip()} ({platform.machine()})"
                break
    except OSError:
        pass
    return (f"{model}, {cpus or '?'} CPU core(s) shared with other jobs, 1 torch thread, no GPU; "
            f"torch {torch.__version__}, Python {platform.python_version()}")


def _log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def test_sequences(data: str) -> list:
    """The test sequences of the split, as ``[(name, cine), ...]``."""
    sequences = load_sequences(f"{data}:sax")
    split = split_sequences([n for n, _ in sequences])
    return [(n, cine) for n, cine in sequences if n in split["test"]]


def run_experiment(data: str, step: int, out: Path, name: str, iterations: int) -> dict:
    """Train run ``name`` to ``iterations`` (resuming it), score it on the test sequences and write its
    ``eval.json``, keeping the scores of the budgets it had reached before."""
    torch.set_num_threads(1)
    description, overrides = experiments()[name]
    folder = out / name

    def log(message: str) -> None:
        _log(f"{name}: {message}")

    before = read_json(folder / EVAL_FILE)
    earlier = [*before.get("earlier", []), _summary(before)] if before and before.get("iterations") else []
    config = run_config(data, iterations, step, out, name, overrides)
    log(f"training {iterations} iterations ({description})")
    wall = time.perf_counter()
    train_run(config, log)
    card = read_json(folder / "model.json")
    test = test_sequences(data)
    log(f"scoring on {len(test)} test sequences")
    result = score(str(folder), test, log)
    result.update(
        name=name, description=description, iterations=iterations, config=config, earlier=earlier,
        train_seconds=card["training"]["seconds"],
        wall_seconds=time.perf_counter() - wall,
    )
    (folder / EVAL_FILE).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    log(f"PSNR {result['psnr'][0]:.2f} ± {result['psnr'][1]:.2f} dB, SSIM {result['ssim'][0]:.4f} at "
        f"{iterations} iterations; {result['wall_seconds']:.0f} s")
    return result


def _summary(result: dict) -> dict:
    """What an earlier budget's scores keep once a run is continued past it (the per-sequence scores
    too, for comparisons at matched budgets)."""
    return {k: result[k] for k in ("iterations", "psnr", "ssim", "per_sequence") if k in result}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the pig archive pig_cine_cc0.npz")
    parser.add_argument("--out", default=str(DEFAULT_OUT.relative_to(ROOT)),
                        help=f"folder of the runs (default: {DEFAULT_OUT.relative_to(ROOT)}, tracked in git)")
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS,
                        help="first budget of every run, and the step by which a run whose validation PSNR "
                             f"still rises is continued (default: {DEFAULT_ITERATIONS})")
    parser.add_argument("--max-iterations", type=int, default=MAX_ITERATIONS,
                        help=f"most iterations of any run (default: {MAX_ITERATIONS})")
    parser.add_argument("--min-iterations", type=int, default=0,
                        help="train the chosen runs to at least this many iterations, plateau or not (to "
                             "compare runs at a matched budget; default: the plateau rule alone)")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained side by side, one thread each (default: 1)")
    parser.add_argument("--results", default=str(ROOT / "docs" / "results.md"), help="results page to write")
    parser.add_argument("--images", default=str(ROOT / "docs" / "images"), help="folder of the curve images")
    parser.add_argument("--only", help="comma-separated run names to train (default: all)")
    parser.add_argument("--tables-only", action="store_true", help="only rewrite the page from finished runs")
    args = parser.parse_args(argv)
    args.machine = _machine()
    if args.iterations < 1:
        parser.error("--iterations must be at least 1")
    if args.max_iterations < args.iterations:
        parser.error("--max-iterations must be at least --iterations")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    exps = experiments()
    chosen = list(exps) if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(chosen) - set(exps))
    if unknown:
        parser.error(f"unknown run(s) {', '.join(unknown)}; known: {', '.join(exps)}")

    split = split_sequences([n for n, _ in load_sequences(f"{args.data}:sax")])
    results: dict[str, dict | None] = {}
    for name in CLASSICAL:
        path = out / name / EVAL_FILE
        results[name] = read_json(path)
        if results[name] is None and not args.tables_only:
            results[name] = score(name, test_sequences(args.data), _log)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results[name], indent=1) + "\n", encoding="utf-8")
    results[UNTRAINED] = finished(out / UNTRAINED, 0)
    if results[UNTRAINED] is None and not args.tables_only:
        results[UNTRAINED] = score_untrained(out / UNTRAINED, test_sequences(args.data), _log)
    for name in exps:
        results[name] = scored(out / name, args.iterations, args.max_iterations)
    write_results(args, results, exps, split, Path(args.images), Path(args.results))
    if args.tables_only:
        return 0

    budgets = {name: next_budget(results[name], out / name, args.iterations, args.max_iterations,
                                 args.min_iterations) for name in chosen}
    for name, budget in budgets.items():
        if budget is None:
            _log(f"{name}: finished earlier ({results[name]['iterations']} iterations), reused")
    # unscored runs first, then the continuations, the least trained first; a continued run goes back
    # to the end of the queue, so every rising run gets its next step before any gets two
    todo = sorted((n for n, b in budgets.items() if b is not None), key=lambda n: budgets[n])
    # spawn: a fresh interpreter per worker, so no torch thread pool is inherited through fork
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:

        def submit(name: str, budget: int) -> None:
            futures[pool.submit(run_experiment, args.data, args.iterations, out, name, budget)] = name

        futures: dict = {}
        for name in todo:
            submit(name, budgets[name])
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                name = futures.pop(future)
                try:
                    results[name] = future.result()
                except Exception as err:  # one failed run must not stop the others; its row says "not run"
                    _log(f"{name}: FAILED: {type(err).__name__}: {err}")
                    continue
                write_results(args, results, exps, split, Path(args.images), Path(args.results))
                budget = next_budget(results[name], out / name, args.iterations, args.max_iterations,
                                     args.min_iterations)
                if budget is not None:
                    slope = plateau_slope(out / name, results[name]["iterations"], PLATEAU_FRACTION)
                    why = ("below --min-iterations" if results[name]["iterations"] < args.min_iterations
                           else "validation PSNR still rising")
                    _log(f"{name}: {why} at {results[name]['iterations']} iterations ({slope:+.2f} dB / 100 it. "
                         f"over the last {PLATEAU_FRACTION:.0%}): continuing to {budget}")
                    submit(name, budget)
    _log(f"done: {args.results}")
    return 0
