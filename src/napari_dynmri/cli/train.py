"""``dynmri train``: train a reconstruction network from a TOML configuration and/or options."""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_dynmri.cli import UserError
from napari_dynmri.physics import MASK_KINDS

# option destination -> dotted configuration key
_KEYS = {
    "output": "output",
    "model": "model.name",
    "train_data": "data.train",
    "val_data": "data.val",
    "iterations": "iterations",
    "batch_size": "batch_size",
    "frames": "data.frames",
    "mask": "mask.kind",
    "acceleration": "mask.accelerations",
    "center_lines": "mask.center_lines",
    "fixed_masks": "mask.fixed",
    "seed": "seed",
    "device": "device",
    "optimizer": "optimizer.name",
    "lr": "optimizer.lr",
    "momentum": "optimizer.momentum",
    "schedule": "schedule.name",
    "val_every": "val_every",
    "checkpoint_every": "checkpoint_every",
    "keep": "keep",
    "num_threads": "num_threads",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a reconstruction network",
        description="Train a reconstruction network on undersampled cines simulated from fully sampled "
        "data. Settings come from CONFIG (TOML, see docs/training.md); options override it. Writes "
        "weights.safetensors, model.json, metrics.csv, loss.png, val_metrics.png and a resumable "
        "checkpoint/ into the output folder. Run under torchrun for multi-process data-parallel training.",
    )
    parser.add_argument("config", nargs="?", type=Path, help="TOML configuration file")
    parser.add_argument("--resume", type=Path, metavar="FOLDER", help="continue the run in FOLDER from its checkpoint")
    parser.add_argument("-o", "--output", help="output folder")
    parser.add_argument("--model", help="architecture (model.name), e.g. cascade")
    parser.add_argument("--train-data", nargs="+", metavar="SPEC", help="PATH.npz[:sax], phantom:N, cine files/folders")
    parser.add_argument("--val-data", nargs="+", metavar="SPEC", help="validation data (default: split of the training data)")
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--batch-size", type=int, help="samples per step and process")
    parser.add_argument("--crop", type=int, nargs="+", metavar="N", help="crop H W (or one size; 0: full images)")
    parser.add_argument("--frames", type=int, help="temporal window (0: all frames)")
    parser.add_argument("--mask", choices=MASK_KINDS)
    parser.add_argument("--acceleration", type=float, nargs="+", metavar="R", help="one or several accelerations")
    parser.add_argument("--center-lines", type=int)
    parser.add_argument("--fixed-masks", action="store_const", const=True, help="one fixed mask per acceleration")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--optimizer", choices=("adam", "sgd"))
    parser.add_argument("--lr", type=float, help="learning rate")
    parser.add_argument("--momentum", type=float, help="SGD momentum")
    parser.add_argument("--schedule", choices=("none", "cosine", "step"), help="learning-rate schedule")
    parser.add_argument("--val-every", type=int, help="validate every N iterations")
    parser.add_argument("--checkpoint-every", type=int, help="checkpoint every N iterations")
    parser.add_argument("--keep", choices=("best", "last"), help="weights kept: best validation PSNR or last")
    parser.add_argument("--num-threads", type=int, help="torch CPU threads (0: default)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any configuration key, TOML value, e.g. --set optimizer.weight_decay=0 (repeatable)")
    parser.add_argument("--overwrite", action="store_true", help="write into an output folder that holds a run")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or messages")
    parser.set_defaults(func=run)


def overrides_from_args(args: argparse.Namespace) -> dict:
    """Dotted configuration keys set by the command-line options (``--set`` last, so it wins)."""
    from napari_dynmri.training.config import parse_value

    overrides = {key: getattr(args, dest) for dest, key in _KEYS.items() if getattr(args, dest) is not None}
    if args.crop is not None:
        if len(args.crop) > 2:
            raise ValueError(f"--crop takes one or two sizes, got {len(args.crop)}")
        overrides["data.crop"] = 0 if args.crop == [0] else (args.crop * 2)[:2]
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = parse_value(value.strip())
    return overrides


def run(args: argparse.Namespace) -> int:
    from napari_dynmri.training.checkpoint import find_checkpoint, read_checkpoint_config, run_folder_of
    from napari_dynmri.training.config import load_config
    from napari_dynmri.training.distributed import from_environment
    from napari_dynmri.training.trainer import train

    overrides = overrides_from_args(args)
    base = None
    if args.resume is not None:
        base = read_checkpoint_config(args.resume)
        run_folder = run_folder_of(find_checkpoint(args.resume))
        if run_folder is None and "output" not in overrides:
            raise UserError(f"{args.resume} is a checkpoint outside its run folder (not RUN/checkpoint); "
                            "pass -o FOLDER to say where the resumed run writes")
        overrides.setdefault("output", str(run_folder))
    elif args.config is None and "model.name" not in overrides:
        raise ValueError("give a CONFIG file, --resume FOLDER, or at least --model and --train-data")
    config = load_config(args.config, overrides, base=base)
    output = train(config, resume=args.resume, quiet=args.quiet, overwrite=args.overwrite)
    if not args.quiet and from_environment().is_main:
        print(output)
    return 0
