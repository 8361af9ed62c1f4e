"""``dynmri eval``: score zero filling and reconstruction methods on a set of cines.

Protocol (the one of ``napari_dynmri.metrics``): every sequence is scaled to max |x| = 1 and
undersampled with the mask options, sequence ``i`` of the evaluated list with seed ``seed + i``
(as the trainer scores its test split); PSNR / SSIM / NMSE on magnitudes, summarised over sequences
as mean ± population standard deviation.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

from napari_dynmri.cli import UserError
from napari_dynmri.physics import MASK_KINDS
from napari_dynmri.recon.methods import CS_METHODS, ZERO_FILLED

SPLITS = ("test", "val", "train", "all")
# The trainer's default split seed (training config data.split_seed), so "test" is the trainer's test part.
SPLIT_SEED = 0
METRICS = ("psnr", "ssim", "nmse")


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
    parser.add_argument("--mask", choices=MASK_KINDS, default="vd-random", help="mask type (default: vd-random)")
    parser.add_argument("--acceleration", type=float, default=8.0, help="acceleration R (default: 8)")
    parser.add_argument("--center-lines", type=int, default=8, help="always-sampled centre rows (default: 8)")
    parser.add_argument("--seed", type=int, default=0, help="mask seed of the first sequence (default: 0)")
    parser.add_argument("--lam", default=None,
                        help="weight of every compressed-sensing method, or 'auto' (default: auto, per scan)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    parser.add_argument("--json", type=Path,
                        help="write the summary and per-sequence scores as JSON (a score that is not finite is null)")
    parser.add_argument("--csv", type=Path, help="write per-frame scores (method, sequence, frame, psnr, ssim)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing --json / --csv files")
    parser.set_defaults(func=run)


def select_sequences(data: str, split: str) -> list[tuple[str, object]]:
    """``[(name, cine), ...]`` of ``data`` in ``split`` (see :mod:`napari_dynmri.training.datasets`)."""
    from napari_dynmri.training.datasets import load_sequences, split_sequences

    sequences = load_sequences(data)
    if split == "all":
        return sequences
    if len(sequences) < 3:
        raise UserError(
            f"{data} holds {len(sequences)} sequence(s), too few for a train/val/test split; use --split all"
        )
    chosen = set(split_sequences([name for name, _ in sequences], SPLIT_SEED)[split])
    return [(name, cine) for name, cine in sequences if name in chosen]


def _method_specs(models: list[str]) -> list[str]:
    """Zero filling first, then each requested method once, in the given order."""
    specs = [ZERO_FILLED]
    for spec in models:
        if spec not in specs:
            specs.append(spec)
    return specs


def evaluate_methods(methods, sequences, mask_kind, acceleration, center_lines, seed, log=None) -> dict:
    """Reconstruct and score every sequence with every method.

    Args:
        methods: :class:`napari_dynmri.recon.ReconMethod` objects (distinct names).
        sequences: ``[(name, cine), ...]``, complex ``(T, H, W)`` scaled to max 1.
        mask_kind, acceleration, center_lines: the masks; sequence ``i`` uses seed ``seed + i``.
        log: optional ``callable(str)`` told about each reconstruction (``[i/n] sequence: ...``, the
            progress of a long evaluation).

    Returns:
        ``{method name: [{"sequence", "psnr", "ssim", "nmse", "seconds", "psnr_per_frame",
        "ssim_per_frame"}, ...]}`` with per-frame values as lists of floats.
    """
    from napari_dynmri.metrics import evaluate
    from napari_dynmri.training.datasets import fixed_case

    scores = {method.name: [] for method in methods}
    for index, (name, cine) in enumerate(sequences):
        case = fixed_case(cine, mask_kind, acceleration, center_lines, seed + index)
        for method in methods:
            start = time.perf_counter()
            recon = method.reconstruct(case["kspace"], case["mask"])
            seconds = time.perf_counter() - start
            result = evaluate(recon, case["target"])
            scores[method.name].append(
                {
                    "sequence": name,
                    "psnr": result["psnr"],
                    "ssim": result["ssim"],
                    "nmse": result["nmse"],
                    "seconds": seconds,
                    "psnr_per_frame": [float(v) for v in result["psnr_per_frame"]],
                    "ssim_per_frame": [float(v) for v in result["ssim_per_frame"]],
                }
            )
            if log is not None:
                log(f"[{index + 1}/{len(sequences)}] {name}: {method.name} {result['psnr']:.2f} dB, "
                    f"SSIM {result['ssim']:.3f} ({seconds:.1f} s)")
    return scores


def summarize_scores(scores: dict) -> dict:
    """``{method: {"psnr": [mean, std], "ssim": [...], "nmse": [...], "seconds": mean}}``."""
    from napari_dynmri.metrics import summarize

    summary = {}
    for name, rows in scores.items():
        summary[name] = {metric: list(summarize([row[metric] for row in rows])) for metric in METRICS}
        summary[name]["seconds"] = summarize([row["seconds"] for row in rows])[0]
    return summary


def format_table(summary: dict) -> str:
    """The summary as an aligned text table, one row per method."""
    width = max(len("method"), *(len(name) for name in summary))
    lines = [f"{'method':<{width}}  {'PSNR (dB)':>15}  {'SSIM':>17}  {'NMSE':>19}  {'s/seq':>7}"]
    for name, row in summary.items():
        psnr, ssim, nmse = (row[m] for m in METRICS)
        lines.append(
            f"{name:<{width}}  {psnr[0]:7.2f} ± {psnr[1]:5.2f}  {ssim[0]:.4f} ± {ssim[1]:.4f}  "
            f"{nmse[0]:.5f} ± {nmse[1]:.5f}  {row['seconds']:7.2f}"
        )
    return "\n".join(lines)


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
    from napari_dynmri.io.atomic import write_text
    from napari_dynmri.recon import get_method
    from napari_dynmri.validation import check_sampling

    _check_outputs((args.json, args.csv), args.overwrite, args.data)
    check_sampling(args.acceleration, args.center_lines, source="the mask options")
    sequences = select_sequences(args.data, args.split)
    if not sequences:
        raise UserError(f"the {args.split} part of {args.data} is empty")
    methods = [
        get_method(spec, device=args.device, **({"lam": args.lam} if spec in CS_METHODS else {}))
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
    scores = evaluate_methods(
        methods, sequences, args.mask, args.acceleration, args.center_lines, args.seed,
        log=lambda line: print(line, file=sys.stderr),
    )
    summary = summarize_scores(scores)
    print(format_table(summary))

    if args.json is not None:
        report = {
            "data": str(args.data),
            "split": args.split,
            "split_seed": SPLIT_SEED,
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
