"""Copy a trained run into the package as a shipped model, completing its model card.

    .venv/bin/python scripts/ship_model.py runs/dynmri_default_stage3 dynmri-default \
        --quality runs/benchmarks/quality.json --benchmarked-as dynmri-default

Copies ``weights.safetensors`` and ``model.json`` of RUN into
``src/napari_dynmri/pretrained/NAME/``, adds the card keys the package promises (``name``,
``training_data``, ``licence``) and, with ``--quality`` (the JSON written by
``benchmarks/benchmark_models.py``), the pig long-axis figures as ``metrics.test`` (the trainer's
short-axis test split stays as ``metrics.test_sax``). A run fine-tuned from another
(``init_weights``) gets the chain of runs it grew from as ``training.stages`` (paths are read
relative to the working directory, the repository root).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from napari_dynmri.recon import BUILTIN_METHODS

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "napari_dynmri" / "pretrained"

TRAINING_DATA = (
    "Sunnybrook Preclinical Simulated Cardiac EP Dataset: bSSFP short-axis cines of one pig "
    "(GE Signa Excite 1.5 T, 20 phases, 256 x 256, 0.82 mm), public repository WrightGroupSRI/ep-dataset; "
    "k-space simulated from the magnitude images. The long-axis cines of the same animal were never used."
)


def training_stages(card: dict, repo: Path) -> list[dict]:
    """The runs whose weights this one started from (``init_weights``), oldest first, then this one.

    Each stage: iterations, training seconds, the kept weights' iteration and the full config.
    """
    stages = []
    while card is not None:
        training = card.get("training", {})
        config = training.get("config", {})
        stages.append({key: training.get(key) for key in ("iterations", "seconds", "weights_iteration")}
                      | {"config": config})
        parent = config.get("init_weights")
        card = json.loads((repo / parent / "model.json").read_text()) if parent else None
    return stages[::-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="training output folder (weights.safetensors, model.json)")
    parser.add_argument("name", help="shipped model name, e.g. dynmri-default")
    parser.add_argument("--quality", type=Path, help="quality.json of benchmarks/benchmark_models.py")
    parser.add_argument("--benchmarked-as", help="the run's method name in --quality (default: RUN's folder name)")
    parser.add_argument("--description", help="one line for `dynmri models` (default: the trainer's)")
    args = parser.parse_args()

    card = json.loads((args.run / "model.json").read_text())
    metrics = card.setdefault("metrics", {})
    if "test" in metrics:
        metrics["test_sax"] = metrics.pop("test")
    if args.quality is not None:
        tables = json.loads(args.quality.read_text())
        table = tables["R8 LAX all 14"]
        network = args.benchmarked_as or args.run.resolve().name
        if network not in table:
            parser.error(f"{args.quality} has no method {network!r}; it has {', '.join(table)}")
        rows_kept = [*BUILTIN_METHODS, network]
        metrics["test"] = {
            "data": "pig long-axis cines, all 14 (unseen view), R = 8, vd-random, 8 centre lines",
            "psnr": table[network]["psnr"][0],
            "psnr_std": table[network]["psnr"][1],
            "ssim": table[network]["ssim"][0],
            "ssim_std": table[network]["ssim"][1],
            "zero_filled_psnr": table["zero-filled"]["psnr"][0],
            "zero_filled_ssim": table["zero-filled"]["ssim"][0],
        }
        metrics["lax_subset"] = {
            title: {name: {"psnr": row["psnr"], "ssim": row["ssim"]} for name, row in rows.items() if name in rows_kept}
            for title, rows in tables.items()
            if title != "R8 LAX all 14"
        }
    card["training"]["stages"] = training_stages(card, Path.cwd())
    card["name"] = args.name
    if args.description:
        card["description"] = args.description
    card["training_data"] = TRAINING_DATA
    card["licence"] = "weights: BSD-3-Clause (napari-dynmri); training data: CC0 1.0"

    target = PACKAGE / args.name
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.run / "weights.safetensors", target / "weights.safetensors")
    (target / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"shipped {args.name}: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
