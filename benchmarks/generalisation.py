"""Stress sets that model the shifts to unseen anatomy; every method on each; a section of docs/benchmarks.md.

    .venv/bin/python benchmarks/generalisation.py --data ../shared/data/pig_cine/pig_cine_cc0.npz

The sets (built from the pig long-axis cines, a view the shipped network never saw, and the phantom):

- ``pig LAX``: the long-axis cines as they are (all 14, or those ``--lax`` names);
- ``8 frames``: 8 frames spread over the cycle (a small-animal cine; x-f and view sharing lose
  their temporal redundancy);
- ``30 frames``: resampled to 30 frames by periodic Fourier interpolation in time;
- ``184 x 256``: the central 184 rows (a non-square matrix, fewer phase-encoding lines);
- ``8-bit``: magnitude quantised to 256 levels (an exported DICOM/PNG cine);
- ``smooth phase``: a random smooth spatial phase (real scans are complex);
- ``uptake``: a region brightening along a contrast uptake curve (first-pass perfusion: not periodic);
- ``pig SAX``: short-axis slices 4, 8, 12, 16 (the view the defaults were tuned on, other slices);
- ``30 x 184 x 256 8-bit``: 30 frames, the central 184 rows, quantised to 256 levels (a human cine
  as exported from a scanner console);
- ``small motion``: the motion scaled to 30 % around the temporal mean (high temporal redundancy:
  the best weights lie far above the defaults);
- ``strong noise``: complex k-space noise of standard deviation 0.05 (of max |x| = 1);
- ``phantom``: the procedural cardiac phantom (complex, 20 x 128 x 128).

Derived sets use LAX cines 1, 5, 9, 13. Protocol (../shared/DATA.md): every cine scaled to max
|x| = 1, vd-random masks with 8 centre lines (cine i of a set with seed i), PSNR on magnitudes with
data_range = max |target|, SSIM per frame; mean ± std over the cines of a set. The CS methods run
with their automatic weight (the default) and with their default fixed weight (``fixed``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the benchmarks.report package
DERIVED_FROM = (1, 5, 9, 13)
SECTION = "## Generalisation: stress sets"
SET_ORDER = ("pig LAX", "pig SAX", "8 frames", "30 frames", "184 x 256", "8-bit", "30 x 184 x 256 8-bit",
             "smooth phase", "uptake", "small motion", "strong noise", "phantom")
# k-space noise (standard deviation, cines scaled to max |x| = 1) of the sets that simulate noisy scans
NOISE = {"strong noise": 0.05}
SAX_SLICES = (4, 8, 12, 16)


def _scaled(cine: np.ndarray) -> np.ndarray:
    cine = np.asarray(cine, dtype=np.complex64)
    return cine / np.abs(cine).max()


def _rows(cine: np.ndarray, rows: int) -> np.ndarray:
    """The central ``rows`` rows of ``(T, H, W)``."""
    start = (cine.shape[1] - rows) // 2
    return cine[:, start:start + rows]


def stress_sets(data: str, lax_indices=None) -> dict[str, list[tuple[str, np.ndarray]]]:
    """``{set name: [(cine name, complex64 (T, H, W) scaled to max 1), ...]}``; ``lax_indices``
    picks the cines of the ``pig LAX`` set (default: all 14)."""
    from napari_dynmri.data.augment import contrast_uptake, resample_frames, smooth_phase
    from napari_dynmri.data.phantom import cardiac_phantom
    from napari_dynmri.data.sequences import load_sequences

    lax = load_sequences(f"{data}:lax")
    derived = [(name, np.asarray(cine)) for i, (name, cine) in enumerate(lax) if i in DERIVED_FROM]
    rng = np.random.default_rng(0)
    sets = {
        "pig LAX": [(name, _scaled(cine)) for i, (name, cine) in enumerate(lax)
                    if lax_indices is None or i in lax_indices],
        "8 frames": [(n, _scaled(c[np.linspace(0, len(c), 8, endpoint=False).astype(int)])) for n, c in derived],
        "30 frames": [(n, _scaled(resample_frames(c, 30))) for n, c in derived],
        "184 x 256": [(n, _scaled(_rows(c, 184))) for n, c in derived],
        "8-bit": [(n, _scaled(np.round(np.abs(_scaled(c)) * 255) / 255)) for n, c in derived],
        "smooth phase": [(n, _scaled(c * np.exp(1j * smooth_phase(c.shape[1:], rng)))) for n, c in derived],
        "uptake": [(n, _scaled(contrast_uptake(np.abs(c), rng))) for n, c in derived],
        "pig SAX": [(name, _scaled(cine)) for i, (name, cine) in enumerate(load_sequences(f"{data}:sax"))
                    if i in SAX_SLICES],
        "30 x 184 x 256 8-bit": [(n, _scaled(np.round(np.abs(_scaled(_rows(resample_frames(c, 30), 184))) * 255) / 255))
                                 for n, c in derived],
        "small motion": [(n, _scaled(c.mean(0) + 0.3 * (c - c.mean(0)))) for n, c in derived],
        "strong noise": [(n, _scaled(c)) for n, c in derived],
        "phantom": [(f"phantom {s}", _scaled(cardiac_phantom(20, 128, 128, seed=s))) for s in range(3)],
    }
    return sets


def method_specs(networks: list[str]) -> list[tuple[str, str, dict]]:
    """``[(column label, spec, options), ...]``: zero filling, view sharing, each CS method automatic
    and fixed, cs-auto, each network."""
    from napari_dynmri.recon import CS_AUTO, CS_METHODS

    specs = [("zero-filled", "zero-filled", {}), ("view-sharing", "view-sharing", {})]
    for name, method in CS_METHODS.items():
        specs.append((name, name, {}))
        specs.append((f"{name} fixed", name, dict(method.default_weights)))
    specs.append((CS_AUTO, CS_AUTO, {}))
    # a checkpoint folder is labelled by its name, a shipped model by its own
    specs += [(Path(network).name, network, {}) for network in networks]
    return specs


def set_acquisition(set_name: str, acceleration: float, seed: int = 0):
    """The ``napari_dynmri.physics.Acquisition`` of a stress set: vd-random, 8 centre lines, the set's k-space
    noise (``NOISE``), mask seed ``seed`` (cine i of a set is simulated with seed i)."""
    from napari_dynmri.physics import Acquisition

    return Acquisition("vd-random", acceleration, 8, seed, NOISE.get(set_name, 0.0))


def run_set(cines, specs, acceleration: float, log, set_name: str = "") -> dict:
    """Scores of every method on one set: ``{label: {"psnr", "ssim", "seconds", "settings": [per cine]}}``,
    scored by ``napari_dynmri.evaluation.evaluate_methods`` (cine i of the set with mask seed i)."""
    from napari_dynmri.evaluation import evaluate_methods
    from napari_dynmri.recon import get_method

    methods = [(label, get_method(spec, device="cpu", **options)) for label, spec, options in specs]
    rows = evaluate_methods(methods, cines, set_acquisition(set_name, acceleration), log)
    return {label: {key: [row[key] for row in scored] for key in ("psnr", "ssim", "seconds", "settings")}
            for label, scored in rows.items()}


def markdown(results: dict, labels: list[str], args) -> str:
    lines = [
        SECTION,
        "",
        f"R = {args.acceleration:g}, vd-random, 8 centre lines; PSNR in dB, mean ± std over the cines of each set "
        "(SSIM and seconds per cine below); the best mean per row in bold. `fixed`: the method's default "
        "weight; without it, the weight chosen per scan on held-out lines. Built and scored by",
        "",
        "```bash",
        f".venv/bin/python benchmarks/generalisation.py --data ../shared/data/pig_cine/pig_cine_cc0.npz "
        f"--acceleration {args.acceleration:g}" + "".join(f" --network {n}" for n in args.network)
        + (f" --lax {args.lax}" if args.lax else ""),
        "```",
        "",
        f"on {platform.processor() or platform.machine()}, {args.threads} torch threads; "
        "see the module docstring of `benchmarks/generalisation.py` for how each set is made.",
        "",
    ]

    def table(metric: str, digits: int, best_high: bool = True) -> list[str]:
        rows = ["| set | cines | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
        for name, scores in results.items():
            means = {label: float(np.mean(scores[label][metric])) for label in labels}
            best = (max if best_high else min)(means, key=means.get)
            cells = []
            for label in labels:
                values = scores[label][metric]
                text = f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"
                cells.append(f"**{text}**" if label == best else text)
            count = len(next(iter(scores.values()))[metric])
            rows.append(f"| {name} | {count} | " + " | ".join(cells) + " |")
        return rows

    lines += ["### PSNR (dB)", "", *table("psnr", 2), "", "### SSIM", "", *table("ssim", 3), ""]
    lines += ["### Seconds per cine", "", "| set | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for name, scores in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{np.median(scores[label]['seconds']):.1f}" for label in labels) + " |")
    tuned = [label for label in labels if label.startswith("cs-") and "fixed" not in label]
    lines += ["", "### What the automatic methods chose (median weight; cs-auto: methods chosen)", "",
              "| set | " + " | ".join(tuned) + " |", "|---|" + "---|" * len(tuned)]
    for name, scores in results.items():
        cells = []
        for label in tuned:
            chosen = scores[label]["settings"]
            if label == "cs-auto":
                methods = [s["method"] for s in chosen]
                cells.append(", ".join(f"{m} x{methods.count(m)}" for m in sorted(set(methods))))
            else:
                cells.append(", ".join(f"{key} {np.median([s[key] for s in chosen]):.2g}"
                                       for key in chosen[0] if key.startswith("lam")))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    mean_psnr = {label: float(np.mean([np.mean(s[label]["psnr"]) for s in results.values()])) for label in labels}
    lines += ["", "Mean over the sets of the set means (PSNR, dB): "
              + ", ".join(f"{label} {value:.2f}" for label, value in sorted(mean_psnr.items(), key=lambda kv: -kv[1])),
              ""]
    return "\n".join(lines)


def speed_table(methods: list[str], args) -> str:
    """Whole-process ``dynmri recon`` timings (benchmark_models.speed), as a markdown table."""
    import tempfile

    from benchmark_models import speed

    with tempfile.TemporaryDirectory() as work:
        timings = speed(Path(work), methods, args.repeats, args.threads)
    reference = timings[methods[0]]["seconds_median"]
    lines = [
        "### Speed and memory of a whole `dynmri recon` process",
        "",
        f"20 x 256 x 256 pig sample at R = 8, `--device cpu`, {args.threads} threads, median of {args.repeats} "
        f"runs in one go (start-up included; ratios against `{methods[0]}` in the same go, since machines differ).",
        "",
        "| method | seconds (median) | ratio | peak memory |",
        "|---|---|---|---|",
    ]
    for method, row in timings.items():
        lines.append(f"| {method} | {row['seconds_median']:.1f} | {row['seconds_median'] / reference:.2f} | "
                     f"{row['peak_mb'] / 1024:.2f} GB |")
    return "\n".join(lines) + "\n"


def main() -> int:
    import torch

    from benchmarks.report.page import replace_section

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the pig archive (pig_cine_cc0.npz)")
    parser.add_argument("--acceleration", type=float, default=8.0)
    parser.add_argument("--network", action="append", default=[], help="a shipped model or checkpoint; repeat")
    parser.add_argument("--sets", default=None, help="comma-separated set names (default: all)")
    parser.add_argument("--lax", default=None,
                        help="comma-separated long-axis cine indices of the 'pig LAX' set (default: all 14)")
    parser.add_argument("--only", default=None,
                        help="comma-separated column labels to (re)run, merged into the existing --json results")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: write the tables from the --json results (e.g. after merging runs)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--speed", default=None,
                        help="comma-separated methods whose whole `dynmri recon` process is timed on the "
                        "20 x 256 x 256 pig sample (median of --repeats, peak memory)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=REPO / "out" / "generalisation.json")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    sets = stress_sets(args.data, None if args.lax is None else {int(i) for i in args.lax.split(",")})
    if args.sets:
        chosen = [name.strip() for name in args.sets.split(",")]
        unknown = sorted(set(chosen) - set(sets))
        if unknown:
            parser.error(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(sets)}")
        sets = {name: sets[name] for name in chosen}
    specs = method_specs(args.network)
    labels = [label for label, _, _ in specs]
    run_specs = specs
    results = {}
    if args.report:
        sets, results = {}, json.loads(args.json.read_text())
    elif args.only:
        only = [label.strip() for label in args.only.split(",")]
        unknown = sorted(set(only) - set(labels))
        if unknown:
            parser.error(f"unknown column(s) {', '.join(unknown)}; choose from {', '.join(labels)}")
        run_specs = [spec for spec in specs if spec[0] in only]
        results = json.loads(args.json.read_text()) if args.json.exists() else {}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    for name, cines in sets.items():
        print(f"== {name} ({len(cines)} cines)", file=sys.stderr, flush=True)
        scores = run_set(cines, run_specs, args.acceleration, lambda line: print(line, file=sys.stderr, flush=True),
                         name)
        results[name] = {**results.get(name, {}), **scores}
        args.json.write_text(json.dumps(results, indent=1))  # a partial record if the run is stopped
    complete = [name for name in results if all(label in results[name] for label in labels)]
    missing = sorted(set(results) - set(complete))
    if missing:
        print(f"not in the tables (some columns missing): {', '.join(missing)}", file=sys.stderr)
    results = {name: results[name] for name in complete}
    order = [name for name in SET_ORDER if name in results]
    text = markdown({name: results[name] for name in order}, labels, args)
    if args.speed:
        text += "\n" + speed_table([m.strip() for m in args.speed.split(",")], args)
    replace_section(args.output, text, SECTION)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
