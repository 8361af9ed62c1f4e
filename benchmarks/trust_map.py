"""The trust map against the real error on the stress sets; a section and a figure for docs/benchmarks.md.

    .venv/bin/python benchmarks/trust_map.py --data ../shared/data/pig_cine/pig_cine_cc0.npz

For the first cine of every stress set at R = 8 (simulated as in ``benchmarks/selection.py``), the
candidate the default chooses (replayed from ``benchmarks/selection_records.json``, so no selection
is re-run) reconstructs the cine and makes its trust map (:mod:`napari_dynmri.recon.trust`). Figures
per cine: the Spearman rank correlation between the trust map and the real error
``|recon - target|`` over all pixels, and the share of the 5 % largest-error pixels that lie
among the 5 % most uncertain ones (0.05 by chance).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))  # the sibling scripts generalisation and selection
sys.path.insert(0, str(REPO))
SECTION = "## Trust map"
FIGURE = REPO / "docs" / "images" / "trust-map.png"


def top_share(uncertainty: np.ndarray, error: np.ndarray, share: float = 0.05) -> float:
    """Fraction of the ``share`` largest-error pixels that are among the ``share`` most uncertain ones."""
    count = max(1, int(round(share * error.size)))
    worst = np.argpartition(error.ravel(), -count)[-count:]
    doubtful = np.argpartition(uncertainty.ravel(), -count)[-count:]
    return float(np.isin(worst, doubtful).mean())


def figure(target, image, uncertainty, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = 0
    error = np.abs(image[frame] - target[frame])
    panels = [("target", np.abs(target[frame]), "gray"), ("reconstruction", np.abs(image[frame]), "gray"),
              ("|recon - target|", error, "magma"), ("trust map (fold spread)", uncertainty[frame], "magma")]
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.6))
    for axis, (name, data, colormap) in zip(axes, panels):
        shown = axis.imshow(data, cmap=colormap, vmax=np.percentile(data, 99.5) if colormap == "magma" else None)
        axis.set_title(name)
        axis.axis("off")
        if colormap == "magma":
            fig.colorbar(shown, ax=axis, fraction=0.046)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> int:
    import torch
    from generalisation import set_acquisition, stress_sets
    from scipy.stats import spearmanr
    from selection import replay

    from benchmarks.report.page import replace_section
    from napari_dynmri.metrics import psnr
    from napari_dynmri.recon import get_method
    from napari_dynmri.recon.trust import fold_spread
    from napari_dynmri.recon.weight import DEFAULT_SCORE_COLUMNS, DEFAULT_WEIGHTING, CrossValidation
    from napari_dynmri.simulation import simulate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--records", type=Path, default=REPO / "benchmarks" / "selection_records.json")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    records = json.loads(args.records.read_text())
    rows = []
    for set_name, cines in stress_sets(args.data).items():
        cine_name, cine = cines[0]
        record = records.get(f"R8|{set_name}|{cine_name}")
        if record is None:
            continue
        chosen = replay(record, DEFAULT_WEIGHTING, DEFAULT_SCORE_COLUMNS, 100)
        name, _, exponent = chosen.partition(" ")
        factor = 10.0 ** float(exponent) if exponent else 1.0
        case = simulate(cine, set_acquisition(set_name, 8.0))
        method = get_method(name, device="cpu")
        image = (method.solve(case.kspace, case.mask, factor) if exponent
                 else method.reconstruct(case.kspace, case.mask).image)
        spread = fold_spread(method, case.kspace, case.mask, factor, CrossValidation())
        error = np.abs(image - case.target)
        rho = float(spearmanr(spread.ravel(), error.ravel())[0])
        rows.append((set_name, chosen, psnr(image, case.target), rho, top_share(spread, error)))
        print(f"{set_name}: {chosen} {rows[-1][2]:.2f} dB, Spearman {rho:.2f}, top 5 % {rows[-1][4]:.2f}",
              file=sys.stderr, flush=True)
        if len(rows) == 1:
            figure(case.target, image, spread, f"{set_name} ({cine_name}), R = 8, {chosen}: frame 0", FIGURE)
    lines = [
        SECTION, "",
        "The trust map (`dynmri recon --uncertainty`, the Reconstruct widget's *trust map* box) is the jackknife "
        "spread of the chosen candidate's reconstructions of the cross-validation folds. Against the real error "
        "`|recon - target|` of the first cine of each stress set at R = 8 (Spearman rank correlation over "
        "all pixels; share of the 5 % largest-error pixels among the 5 % most uncertain, 0.05 by chance). Made by",
        "", "```bash", ".venv/bin/python benchmarks/trust_map.py --data ../shared/data/pig_cine/pig_cine_cc0.npz",
        "```", "",
        "| set | chosen | PSNR dB | Spearman | top 5 % shared |", "|---|---|---|---|---|",
        *[f"| {s} | {c} | {p:.2f} | {r:.2f} | {t:.2f} |" for s, c, p, r, t in rows],
        f"| mean | | | {np.mean([r[3] for r in rows]):.2f} | {np.mean([r[4] for r in rows]):.2f} |",
        "", f"The Spearman correlation reaches 0.5 on {sum(r[3] >= 0.5 for r in rows)} of {len(rows)} sets: the "
        "spread of the folds sees where the data leave the image free (aliasing, motion), not the bias a strong "
        "prior adds where it is confidently wrong, nor noise that all folds share.",
        "", f"![Trust map beside the error map]({FIGURE.relative_to(REPO / 'docs').as_posix()})", "",
    ]
    text = "\n".join(lines)
    replace_section(args.output, text, SECTION)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
