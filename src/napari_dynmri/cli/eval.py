"""``dynmri eval``: score zero filling and reconstruction methods on a set of cines.

The sequences, the scoring and the summary are those of :mod:`napari_dynmri.evaluation` (sequence
``i`` undersampled with seed ``seed + i``, as the trainer scores its test split); this module parses
the options, prints the table and writes the ``--json`` / ``--csv`` files.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

from napari_dynmri.cli import UserError
from napari_dynmri.cli.recon import add_method_options, given_options
from napari_dynmri.cli.simulate import acquisition_from_args, add_acquisition_options
from napari_dynmri.data.sequences import DEFAULT_SPLIT_SEED
from napari_dynmri.evaluation import (
    METRICS,
    SPLITS,
    evaluate_methods,
    format_table,
    select_sequences,
    summarize_scores,
)
from napari_dynmri.recon.methods import ZERO_FILLED
from napari_dynmri.recon.registry import options_of


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="PSNR / SSIM / NMSE of zero filling and reconstruction methods on a data set",
        description="Undersample every sequence of --data (seeded masks, seed + sequence index), reconstruct "
        "it with zero filling and each --model, and print PSNR, SSIM and NMSE (mean ± std over sequences).",
    )
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        help="cs-auto, cs-xf, cs-lps, cs-ttv, view-sharing, zero-filled, a shipped model name or a checkpoint "
        "path; repeat for several",
    )
    parser.add_argument(
        "--data",
        required=True,
        help="cine file or folder, PATH.npz[:sax|:lax] (the pig archive) or phantom:N[:TxHxW]",
    )
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="test",
        help="part of the 5:1:2 train/val/test split (split seed 0, as training) to score, or all (default: test)",
    )
    add_acquisition_options(parser, noise=False, seed_help="mask seed of the first sequence")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    parser.add_argument("--json", type=Path,
                        help="write the summary and per-sequence scores as JSON (a score that is not finite is null)")
    parser.add_argument("--csv", type=Path, help="write per-frame scores (method, sequence, frame, psnr, ssim)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing --json / --csv files")
    add_method_options(parser, "each applies to every --model method that takes it")
    parser.set_defaults(func=run)


def _method_specs(models: list[str]) -> list[str]:
    """Zero filling first, then each requested method once, in the given order."""
    specs = [ZERO_FILLED]
    for spec in models:
        if spec not in specs:
            specs.append(spec)
    return specs


def _check_outputs(paths, overwrite: bool, data: str) -> None:
    """Each given output may be written, is not the ``data`` file, and no two are the same file."""
    from napari_dynmri.io.atomic import check_not_an_input, check_output_path

    given = [path for path in paths if path is not None]
    for path in given:
        check_output_path(path, overwrite)
        check_not_an_input(path, data, data.rsplit(":", 1)[0])
    resolved = [path.resolve() for path in given]
    if len(set(resolved)) != len(resolved):
        raise UserError(f"--json and --csv name the same file {given[0]}; give two different files")


def _json_ready(value):
    """``value`` with every NaN or infinite float replaced by None (JSON has no such numbers)."""
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_csv(path: Path, scores: dict, overwrite: bool = False) -> None:
    """Per-frame scores: columns method, sequence, frame, psnr, ssim (written atomically)."""
    from napari_dynmri.io.atomic import atomic_output

    with atomic_output(path, overwrite) as partial, open(partial, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["method", "sequence", "frame", "psnr", "ssim"])
        for name, rows in scores.items():
            for row in rows:
                for frame, (p, s) in enumerate(zip(row["psnr_per_frame"], row["ssim_per_frame"])):
                    writer.writerow([name, row["sequence"], frame, f"{p:.4f}", f"{s:.5f}"])


def run(args: argparse.Namespace) -> int:
    from napari_dynmri.cli.recon import check_device
    from napari_dynmri.io.atomic import write_text
    from napari_dynmri.recon import get_method

    _check_outputs((args.json, args.csv), args.overwrite, args.data)
    acquisition = acquisition_from_args(args)
    check_device(args.device)
    sequences = select_sequences(args.data, args.split)
    if not sequences:
        raise UserError(f"the {args.split} part of {args.data} is empty")
    options = given_options(args)
    methods = [
        get_method(spec, device=args.device,
                   **{name: value for name, value in options.items() if name in {o.name for o in options_of(spec)}})
        for spec in _method_specs(args.model)
    ]
    names = [method.name for method in methods]
    if len(set(names)) != len(names):
        raise UserError(f"two --model values give the same method name: {', '.join(names)}")

    print(
        f"{args.data} ({args.split}: {len(sequences)} sequence(s)); {args.mask} mask, R = {args.acceleration:g}, "
        f"{args.center_lines} centre lines, seeds {args.seed}..{args.seed + len(sequences) - 1}; "
        f"devices: {', '.join(sorted({m.device for m in methods}))}"
    )
    scores = evaluate_methods([(method.name, method) for method in methods], sequences, acquisition,
                              log=lambda line: print(line, file=sys.stderr))
    summary = summarize_scores(scores)
    print(format_table(summary))

    if args.json is not None:
        report = {
            "data": str(args.data),
            "split": args.split,
            "split_seed": DEFAULT_SPLIT_SEED,
            "mask": args.mask,
            "acceleration": args.acceleration,
            "center_lines": args.center_lines,
            "seed": args.seed,
            "sequences": [name for name, _ in sequences],
            "methods": {
                method.name: {
                    "description": method.description,
                    "device": method.device,
                    **summary[method.name],
                    "per_sequence": [
                        {key: row[key] for key in ("sequence", *METRICS, "seconds")} for row in scores[method.name]
                    ],
                }
                for method in methods
            },
        }
        write_text(args.json, json.dumps(_json_ready(report), indent=2, allow_nan=False) + "\n", args.overwrite)
    if args.csv is not None:
        write_csv(args.csv, scores, args.overwrite)
    return 0
