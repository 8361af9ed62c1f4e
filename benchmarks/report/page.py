"""The Markdown of docs/results.md (tables, verdicts, budgets, validation), and the section and table helpers every
benchmark uses to write its docs page."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.report.plots import plot_claims, plot_table
from benchmarks.report.protocol import (
    ACCELERATION,
    ADAM_LR,
    CENTER_LINES,
    CHANNELS,
    CLASSICAL,
    CROP,
    DEFAULT_ITERATIONS,
    DEFAULT_OUT,
    EDGE_ALPHA,
    EDGE_SWITCH,
    FRAMES,
    MASK_SEED,
    MAX_ITERATIONS,
    PERCEPTUAL_ALPHA,
    PLATEAU_FRACTION,
    PLATEAU_SLOPE,
    ROOT,
    SGD_LR,
    TABLES,
    UNTRAINED,
    VALIDATION_COLUMNS,
    VALIDATIONS,
    WIDE_CROP,
    ZERO_FILLED,
    Claim,
    Table,
)
from benchmarks.report.stats import (
    Paired,
    interval,
    iteration_near_best,
    matched_difference,
    metrics_rows,
    paired_difference,
    plateau_slope,
    rising_at,
    validation_step,
)


def markdown_table(header, rows) -> str:
    """A Markdown table: the ``header`` cells, the ``---`` row, then one line per row of ``rows`` (cells as str)."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def replace_section(document: Path, section: str, heading: str) -> None:
    """Put ``section`` (which starts with ``heading``, a ``## `` line) into ``document``, replacing an older
    one up to the next ``## `` heading; a new section goes at the end. A missing document starts as
    ``# Benchmarks``."""
    text = document.read_text(encoding="utf-8") if document.exists() else "# Benchmarks\n"
    if heading in text:
        before, rest = text.split(heading, 1)
        after = rest[rest.find("\n## "):] if "\n## " in rest else ""
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    document.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def verdict(claim: Claim, results: dict, out: Path) -> str:
    """One sentence: whether the report's claim is reproduced, contradicted or not resolved here
    (and which of its runs was still rising when it stopped)."""
    paired = paired_difference(results, claim.first, claim.second)
    sentence = _measured_verdict(claim, paired)
    if paired is None:
        return sentence
    matched = matched_difference(results, claim.first, claim.second)
    if matched:
        budget, paired = matched
        sentence += (f" Their budgets differ ({results[claim.first]['iterations']} and "
                     f"{results[claim.second]['iterations']} iterations); at {budget} iterations each: "
                     f"{interval(paired)} dB.")
    rising = [f"{name} at {results[name]['iterations']} iterations" for name in (claim.first, claim.second)
              if still_rising(results, name, out)]
    if rising:
        sentence += f" Still rising when scored: {', '.join(rising)}; the difference may change with training."
    return sentence


def _measured_verdict(claim: Claim, paired: Paired | None) -> str:
    if paired is None:
        return f"- {claim.label}: **missing** (a run has not finished)."
    measured = f"{interval(paired)} dB (95 % interval; better on {paired.wins} of {paired.count} sequences)"
    if claim.sign is None:
        if paired.low > 0 or paired.high < 0:
            found = "better" if paired.low > 0 else "worse"
            return f"- {claim.label}: {measured}: **{found}**, resolved at this size (the report's finding is not recorded here)."
        return f"- {claim.label}: {measured}: **no difference resolved** at this size (the report's finding is not recorded here)."
    low, high = sorted((claim.sign * paired.low, claim.sign * paired.high))  # > 0: the report's side
    if low > 0:
        word = "**reproduced**"
        if claim.size is not None:
            inside = paired.low <= claim.size <= paired.high
            word += (f" in direction; the report's {claim.size:+.1f} dB is {'inside' if inside else 'outside'} "
                     "the interval")
    elif high < 0:
        word = "**contradicted**"
    else:
        word = "**not resolved** at this size (the interval includes 0)"
    return f"- {claim.label}: {measured}: {word}."


def speed_verdict(claim: Claim, results: dict, out: Path) -> str:
    """One sentence comparing how early two finished runs come within 0.5 dB of their best validation PSNR."""
    first, second = iteration_near_best(out / claim.first), iteration_near_best(out / claim.second)
    if not (results.get(claim.first) and results.get(claim.second)) or first is None or second is None:
        return f"- {claim.label}: **missing** (a run has not finished)."
    word = ("**reproduced**" if second < first else "**contradicted**" if second > first
            else "**not resolved** (the same validation point)")
    return (f"- {claim.label}: within 0.5 dB of its best validation PSNR at iteration {second}, against "
            f"{first} without: {word} (one validation sequence, validated every "
            f"{validation_step(out / claim.first)} iterations; no interval).")


def _cell(result: dict | None) -> tuple[str, str]:
    if result is None:
        return "not run", "not run"
    (p, ps), (s, ss) = result["psnr"], result["ssim"]
    return f"{p:.2f} ± {ps:.2f}", f"{s:.4f} ± {ss:.4f}"


HEADER = """# Reproducing the founding report's experiments (pig cine, CPU-scaled)

This page is written by `python -m benchmarks.report` (`benchmarks/report/`); do not edit it by hand, rerun it:

```bash
{command}
# as it was run here, in the background at low priority beside other work:
nohup nice -n 10 {command} > runs/report.log 2>&1 &
```

The script trains every configuration below with `napari_dynmri.training.train` into `{out}/<run>/`
(`weights.safetensors`, `model.json`, `metrics.csv`), scores it on the test sequences
(`{out}/<run>/eval.json`, per sequence) and rewrites this page after every run. It is resumable: a
run with an `eval.json` of the same budget is reused, an interrupted training continues from its
checkpoint; `--tables-only` rewrites the page from what is finished. The finished run folders are
small and tracked in git, so a later session (on another machine) resumes rather than retrains.

## What was run

The founding report compared, on its own data set, network architectures (Table 1), loss functions
(Table 2), dropout (Table 3), optimizers (Table 4), BatchNorm (Table 5) and deep cascades with data
consistency (Table 6). Every experiment is rerun here on the pig short-axis cines
(`{data}:sax`), scaled down to a 2-core CPU: small crops, 16-channel networks, single-sample
iterations. **Every run trains {iterations} iterations, and is continued {iterations} at a time (to at
most {max_iterations}) while its validation PSNR still rises**: while the least-squares slope of the
validation PSNR over the last 30 % of the run ("slope, last 30 %", in dB per 100 iterations; four
validation points at {iterations} iterations, seven at {twice}) is above {plateau:g}. The column "slope, last
10 %" is the same over the last two points only, more sensitive to the noise of one validation sequence
and of batch-1 steps. A run that stops at the cap still rising is flagged in its table and in the
verdicts that use it. Where the two runs of a comparison have different budgets, the verdict also gives
their difference at the smaller one; a run may be trained past its plateau on request
(`--only RUN --min-iterations N`) to compare it at a matched budget.

| setting | value |
| --- | --- |
| data | 20 pig short-axis slices (20 frames, 256x256), each scaled to max 1 |
| split | 5:1:2 by sequence, split seed 0 (the trainer's): train {train}; validation {val} (only the first, sax-05, is used, for the curves); test {test} |
| undersampling | single coil, vd-random Cartesian mask (whole phase-encoding rows, a new pattern per frame), **R = {R:g}**, {center} centre lines, one fixed mask per shape from seed {mask_seed} (`mask.fixed = true`, the report's fixed-mask protocol). The report's own R is not recorded in this project; R = 8 leaves the zero-filled images far enough from the ceiling for the networks to show differences |
| training samples | random {crop[0]}x{crop[1]} strips (the whole phase-encoding height: on a cropped height the same R and centre lines make another mask; at 48 rows R = 8 keeps only the 8 centre lines) of {frames} consecutive frames (wrapping around the cycle), random flips and time reversal, no intensity or phase augmentation; batch 1; the fixed mask is that of the cropped shape |
| networks | {channels} channels, ReLU, 3x3x3 kernels over (t, y, x); naive, complex and cascade as described with each table |
| budget | **{iterations} iterations, continued by {iterations} while the last-30 % slope is above {plateau:g} dB / 100 it., at most {max_iterations}** (column "iterations"); runs trained {jobs} side by side, one thread each |
| optimizer | Adam, lr {adam_lr:g}, weight decay 1e-8, constant lr (Table 4's SGD: lr {sgd_lr:g}, no momentum); seed 0 for every run |
| losses | MSE on the complex image. Edge: (1 - {edge_alpha}) MSE + {edge_alpha} MSE of Sobel gradient magnitudes, switched on at iteration **{switch}**, as in the report. Perceptual: (1 - {perc:g}) MSE + {perc:g} SqueezeNet 1.1 feature distance (fire3/5/9), the package default that gives the two terms similar sizes |
| weights scored | the last iteration's (`keep = "last"`); validation on sax-05 every {val_every} iterations draws the curves, the slopes and the "near best" column |
| evaluation | the 5 full-size test sequences (20 frames, 256x256, whole cines through the network), sequence i of the test list with mask seed i; PSNR (data range = target max) and SSIM (per frame, averaged) on magnitudes, `napari_dynmri.metrics`; **mean ± std (population) over the 5 test sequences**; paired differences against each table's baseline row on the same sequences and masks, with a 95 % interval (Student t, 4 degrees of freedom) |
| machine | {machine} |

Every distinct configuration is trained once and reused where tables share it: the complex / MSE / Adam
model is the "complex" row of Tables 1 to 6, the naive / MSE / Adam model the "naive" row of Tables 1,
3 and 5, and the zero-filled row is the same in all tables.

**Caveats.** Five test sequences of one animal make wide intervals: a difference whose interval
includes 0 is not evidence either way, whatever its mean. Batch-1 training losses are noisy (the
curves are moving means), and the validation curve is one sequence. The networks are tiny next to
the report's; what is resolved here is the direction of each effect at this size, not its size at
the report's.
The training strips are {crop[1]} columns wide so that they keep the whole phase-encoding height
(the mask's axis) on this CPU: the complex CNN works at half resolution, so its body sees {half}
columns, most of them within one kernel of a zero-padded border, while the naive CNN works at full
resolution. This may handicap the complex CNN (and the complex blocks of the cascades) at this size,
and is a confound of Tables 1 and 6; Table 1 therefore also compares the two networks on
{wide[0]}x{wide[1]} strips.

## Results

Page written {date}: {n_done} of {n_total} trainings scored, {n_rising} of them still rising
(at the cap, or to be continued by rerunning the command); {train_minutes:.0f} min of training steps
(validation excluded, summed over the runs, which trained side by side and across sessions) and
{eval_minutes:.1f} min of test scoring.
"""


TABLE_HEADER = ("method", "PSNR (dB)", "SSIM", "paired Δ PSNR (dB) [95 % interval]", "iterations",
                "slope, last 10 % (dB / 100 it.)", "slope, last 30 %", "within 0.5 dB of its best at it.",
                "training s / it.")


def still_rising(results: dict, name: str, out: Path) -> bool:
    """Whether trained run ``name`` stopped (at the cap, or before being continued) above the plateau slope."""
    result = results.get(name)
    return bool(result) and "train_seconds" in result and rising_at(out / name, result["iterations"])


def table_markdown(table: Table, results: dict, out: Path) -> str:
    """A table's Markdown: one row per (label, run name), "not run" where the run is missing."""
    labels = dict((name, label) for label, name in table.rows)
    baselines = {}
    for claim in table.claims:
        baselines.setdefault(claim.second, claim.first)
    lines = []
    for label, name in table.rows:
        result = results.get(name)
        psnr, ssim = _cell(result)
        first = baselines.get(name)
        paired = paired_difference(results, first, name) if first else None
        trained = bool(result) and "train_seconds" in result
        slopes = [plateau_slope(out / name, result["iterations"], f) if trained else None
                  for f in (0.1, PLATEAU_FRACTION)]
        near = iteration_near_best(out / name) if trained else None
        rising = " (still rising)" if still_rising(results, name, out) else ""
        cells = [
            f"{interval(paired)} vs {labels[first]}" if paired else "",
            f"{result['iterations']}{rising}" if trained else "",
            *(f"{slope:+.2f}" if slope is not None else "" for slope in slopes),
            str(near) if near is not None else "",
            f"{result['train_seconds'] / result['iterations']:.2f}" if trained else "",
        ]
        lines.append([label, psnr, ssim, *cells])
    return markdown_table(TABLE_HEADER, lines)


REPORT_SECTION = """## Compared with the founding report

The report's numbers come from another data set and much larger networks; of them this project
records only Table 1's complex model: PSNR 20.75 dB (zero-filled) -> 31.12 dB, SSIM 0.695 -> 0.934,
a gain of +10.37 dB / +0.239. Here the same comparison gives {zf_psnr} -> {cx_psnr} dB and SSIM
{zf_ssim} -> {cx_ssim} after {iterations} iterations.

Each claim below is the paired PSNR difference on the 5 test sequences (same sequence, same mask)
with its 95 % interval: **reproduced** when the interval lies on the report's side of 0,
**contradicted** when it lies on the other side, **not resolved** when it includes 0. Where the
report's finding is not recorded in this project, the difference is only measured.

{claims}
"""


def budget_markdown(names, results: dict, out: Path) -> str:
    """Test PSNR of every run trained past its first budget, at each budget it was scored at, with the
    plateau slope (last 30 %) the rule read there; empty when no run was continued."""
    runs = {name: [*results[name].get("earlier", []), results[name]] for name in names
            if results.get(name) and results[name].get("earlier")}
    if not runs:
        return ""
    budgets = sorted({entry["iterations"] for entries in runs.values() for entry in entries})
    rows = []
    for name, entries in runs.items():
        by_budget = {entry["iterations"]: entry for entry in entries}
        cells = []
        for budget in budgets:
            entry = by_budget.get(budget)
            slope = plateau_slope(out / name, budget, PLATEAU_FRACTION) if entry else None
            cells.append("" if entry is None else f"{entry['psnr'][0]:.2f}"
                         + (f" (slope {slope:+.2f}: {'rising' if rising_at(out / name, budget) else 'flat'})"
                            if slope is not None else ""))
        rows.append([name, *cells, f"{entries[-1]['psnr'][0] - entries[0]['psnr'][0]:+.2f}"])
    return markdown_table(["run", *(f"{b} iterations" for b in budgets), "change from the first budget (dB)"], rows)


def validation_markdown(names, out: Path, columns: int = VALIDATION_COLUMNS) -> str:
    """Validation PSNR (sax-05) of every run as a Markdown table: at most ``columns`` iterations, evenly
    spaced (the curves in the images show every point)."""
    runs = {name: [r for r in metrics_rows(out / name) if r.get("val_psnr")] for name in names}
    runs = {name: rows for name, rows in runs.items() if rows}
    if not runs:
        return ""
    iterations = sorted({int(r["iteration"]) for rows in runs.values() for r in rows})
    iterations = iterations[math.ceil(len(iterations) / columns) - 1::math.ceil(len(iterations) / columns)]
    reference = next(rows[-1] for rows in runs.values())
    table = [["zero-filled", f"{float(reference['val_psnr_zero_filled']):.2f}", *[""] * (len(iterations) - 1)]]
    for name, rows in runs.items():
        by_iteration = {int(r["iteration"]): r for r in rows}
        table.append([name, *(f"{float(by_iteration[i]['val_psnr']):.2f}" if i in by_iteration else ""
                              for i in iterations)])
    return markdown_table(["run", *map(str, iterations)], table)


def write_results(args, results: dict, exps: dict, split: dict, images: Path, results_path: Path) -> None:
    out = Path(args.out)
    trained = {k: v for k, v in results.items() if k not in (*CLASSICAL, UNTRAINED) and v}
    iterations = args.iterations
    command = (f".venv/bin/python -m benchmarks.report --data {args.data} --jobs {args.jobs}"
               + (f" --out {args.out}" if Path(args.out).resolve() != DEFAULT_OUT else "")
               + (f" --iterations {iterations}" if iterations != DEFAULT_ITERATIONS else "")
               + (f" --max-iterations {args.max_iterations}" if args.max_iterations != MAX_ITERATIONS else ""))
    text = HEADER.format(
        command=command, out=Path(args.out).resolve().relative_to(ROOT) if Path(args.out).resolve().is_relative_to(ROOT) else args.out,
        data=args.data, train=", ".join(split["train"]), val=", ".join(split["val"]),
        test=", ".join(split["test"]), R=ACCELERATION, center=CENTER_LINES, half=CROP[1] // 2, wide=WIDE_CROP, mask_seed=MASK_SEED, crop=CROP,
        frames=FRAMES, channels=CHANNELS, iterations=iterations, max_iterations=args.max_iterations,
        twice=2 * iterations, plateau=PLATEAU_SLOPE, jobs=args.jobs, adam_lr=ADAM_LR, sgd_lr=SGD_LR,
        edge_alpha=EDGE_ALPHA, switch=EDGE_SWITCH, perc=PERCEPTUAL_ALPHA, val_every=max(1, iterations // VALIDATIONS),
        machine=args.machine, date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        n_done=len(trained), n_total=len(exps), n_rising=sum(still_rising(results, name, out) for name in trained),
        train_minutes=sum(v.get("train_seconds", 0) for v in trained.values()) / 60,
        eval_minutes=sum(v.get("eval_seconds", 0) for v in results.values() if v) / 60,
    )
    parts = [text]
    for index, table in enumerate(TABLES, start=1):
        parts.append(f"### {table.title}\n\n{table.description}\n")
        parts.append(table_markdown(table, results, out) + "\n")
        missing = [label for label, name in table.rows if not results.get(name)]
        if missing:
            parts.append(f"Missing rows: {', '.join(missing)} (the run had not finished when this page was "
                         "written; rerun the command to complete it).\n")
        sentences = [verdict(c, results, out) for c in table.claims]
        sentences += [speed_verdict(c, results, out) for c in table.speed_claims]
        parts.append("\n".join(sentences) + "\n")
        image = images / f"results_table{index}.png"
        if plot_table(index, table.title, table.rows, out, image):
            parts.append(f"![{table.title}: training MSE and validation PSNR](images/{image.name})\n")
    budgets = budget_markdown(list(exps), results, out)
    if budgets:
        parts.append("### Runs trained past their first budget\n\nTest PSNR (dB, mean over the 5 test sequences) "
                     "of each continued run at every budget it was scored at, with the validation slope (dB / 100 "
                     f"it., last 30 %) the plateau rule read there: above {PLATEAU_SLOPE:g} the rule continues a run "
                     "(\"rising\"); a \"flat\" run continued anyway was trained on request (`--min-iterations`), "
                     "which tests the rule: what it gained after the rule would have stopped it is what the rule, "
                     "reading one validation sequence, misses.\n")
        parts.append(budgets + "\n")
    validation = validation_markdown(list(exps), out)
    if validation:
        parts.append("### Validation during training\n\nPSNR (dB) of each run on the validation sequence "
                     f"sax-05 (full size, R = {ACCELERATION:g}, mask seed 0; the zero-filled value is constant), "
                     f"at up to {VALIDATION_COLUMNS} evenly spaced validation iterations (the curves above draw every one). The tables "
                     "score the weights of the last iteration.\n")
        parts.append(validation + "\n")
    zf, cx = results.get(ZERO_FILLED), results.get("complex")

    def fmt(result, key, spec):
        return spec.format(result[key][0]) if result else "n/a"

    claims = [c for table in TABLES for c in table.claims]
    unique = list({(c.first, c.second): c for c in claims}.values())
    forest = images / "results_claims.png"
    parts.append(REPORT_SECTION.format(
        zf_psnr=fmt(zf, "psnr", "{:.2f}"), cx_psnr=fmt(cx, "psnr", "{:.2f}"), zf_ssim=fmt(zf, "ssim", "{:.3f}"),
        cx_ssim=fmt(cx, "ssim", "{:.3f}"), iterations=cx["iterations"] if cx else "n/a",
        claims="\n".join([*(verdict(c, results, out) for c in unique),
                           *(speed_verdict(c, results, out) for table in TABLES for c in table.speed_claims)]),
    ))
    if plot_claims(unique, results, forest):
        parts.append(f"![Every claim's paired PSNR difference with its 95 % interval](images/{forest.name})\n")
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text("\n".join(parts).rstrip() + "\n", encoding="utf-8")
