"""A refining network on the stress sets: alone against the classical oracle, and behind cs-auto's safeguard.

    .venv/bin/python benchmarks/refiner.py --data ../shared/data/pig_cine/pig_cine_cc0.npz \
        --network src/napari_dynmri/pretrained/dynmri-refine

For every scan of ``benchmarks/selection_records.json`` (the stress sets of
``benchmarks/generalisation.py`` at R = 8, 4 and 12, simulated exactly as there), cs-auto's choice is
replayed from the records (``selection.replay``: the shipped scheme, exactly what cs-auto picks), its
image solved from all lines, and then:

- **oracle**: the best grid candidate by ground truth (from the records);
- **classical default**: cs-auto without a network (the replayed choice);
- **network alone**: the network refining that choice (what ``--model NETWORK`` gives);
- **default with safeguard**: the network's image where ``recon.safeguard.check_network`` takes it,
  else the classical default (what cs-auto with the network gives).

Results per (R, set) go to the section "Refining network" of docs/benchmarks.md; per-scan results
are kept in ``--json`` (resumed when it exists).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))  # the benchmarks.report package

SECTION = "## Refining network: alone and behind the safeguard"


def evaluate_scan(case, record: dict, network, device: str) -> dict:
    """PSNRs of the classical default, the network alone and the safeguarded default on one scan."""
    from selection import SCHEMES, SHIPPED, replay

    from napari_dynmri.metrics import psnr
    from napari_dynmri.recon.methods import CS_METHODS, ViewSharing
    from napari_dynmri.recon.safeguard import check_network
    from napari_dynmri.recon.weight import CrossValidation

    chosen = replay(record, *SCHEMES[SHIPPED])
    name, _, exponent = chosen.partition(" ")
    factor = 10.0 ** float(exponent) if exponent else 1.0
    family = CS_METHODS[name](device=device) if name in CS_METHODS else ViewSharing()
    tick = time.perf_counter()
    classical = family.solve(case.kspace, case.mask, factor) if name in CS_METHODS else family.reconstruct(
        case.kspace, case.mask).image
    refined = network.refine(case.kspace, case.mask, classical)
    check = check_network(network, family, factor, case.kspace, case.mask, CrossValidation(), device)
    seconds = time.perf_counter() - tick
    oracle = max(record["psnr"].values())
    return {
        "choice": chosen,
        "oracle": oracle,
        "classical": float(psnr(classical, case.target)),
        "network": float(psnr(refined, case.target)),
        "taken": bool(check.chosen),
        "safeguarded": float(psnr(refined if check.chosen else classical, case.target)),
        "seconds": seconds,
    }


def markdown(results: dict, args) -> str:
    """The docs section: per (R, set) means of oracle, classical default, network alone and safeguarded default."""
    from benchmarks.report.page import markdown_table

    groups: dict = {}
    for key, row in results.items():
        acceleration, set_name, _ = key.split("|")
        groups.setdefault((acceleration, set_name), []).append(row)
    rows = []
    for (acceleration, set_name), scans in sorted(groups.items(), key=lambda item: (float(item[0][0][1:]), item[0][1])):
        mean = {key: float(np.mean([scan[key] for scan in scans])) for key in ("oracle", "classical", "network",
                                                                                 "safeguarded")}
        rows.append([acceleration, set_name, str(len(scans)), f"{mean['oracle']:.2f}", f"{mean['classical']:.2f}",
                     f"{mean['network']:.2f}", f"{mean['network'] - mean['oracle']:+.2f}",
                     f"{sum(scan['taken'] for scan in scans)}/{len(scans)}",
                     f"{mean['safeguarded'] - mean['classical']:+.2f}"])
    every = list(results.values())
    worst = min(scan["safeguarded"] - scan["classical"] for scan in every)
    margin = [scan["network"] - scan["oracle"] for scan in every]
    return "\n".join([
        SECTION,
        "",
        f"Network `{Path(args.network).name}` refining cs-auto's choice on every scan of the stress sets, "
        "replayed from `benchmarks/selection_records.json` (see the module docstring of `benchmarks/refiner.py`). "
        "PSNR in dB, means over the cines of a set; *network - oracle* is the issue's margin (the goal: "
        "+0.5 dB at R = 8, >= 0 at R = 4 and 12); *taken* counts the scans where the held-out lines preferred "
        "the network; *safeguard - classical* is what the safeguard changed in the default.",
        "",
        markdown_table(["R", "set", "cines", "oracle", "classical default", "network alone", "network - oracle",
                        "taken", "safeguard - classical"], rows),
        "",
        f"Over all {len(every)} scans: network - oracle {np.mean(margin):+.2f} dB on average "
        f"(from {min(margin):+.2f} to {max(margin):+.2f}); the safeguarded default is at worst "
        f"{worst:+.2f} dB from the classical default, and takes the network on "
        f"{sum(scan['taken'] for scan in every)} of {len(every)} scans.",
        "",
        f"Command: `.venv/bin/python benchmarks/refiner.py --data ../shared/data/pig_cine/pig_cine_cc0.npz "
        f"--network {args.network}`; {platform.processor() or platform.machine()}, {args.threads} threads; "
        f"median {np.median([scan['seconds'] for scan in every]):.1f} s a scan for the solve, the network and "
        "the check.",
        "",
    ])


def main() -> int:
    import torch
    from generalisation import set_acquisition, stress_sets

    from benchmarks.report.page import replace_section
    from napari_dynmri.recon import get_method
    from napari_dynmri.simulation import simulate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the pig archive (pig_cine_cc0.npz)")
    parser.add_argument("--network", required=True, help="a refining network: shipped name or checkpoint folder")
    parser.add_argument("--records", type=Path, default=REPO / "benchmarks" / "selection_records.json")
    parser.add_argument("--json", type=Path, default=Path("runs/refiner.json"), help="per-scan results (resumed)")
    parser.add_argument("--accelerations", default="8,4,12", help="which R to run, in order")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    records = json.loads(args.records.read_text())
    network = get_method(args.network, device=device)
    if not getattr(network, "refines", False):
        parser.error(f"{args.network} does not refine a classical start (model init 'given')")
    sets = stress_sets(args.data)
    cines = {(name, cine_name): (index, cine) for name, items in sets.items()
             for index, (cine_name, cine) in enumerate(items)}
    results = json.loads(args.json.read_text()) if args.json.exists() else {}
    order = [f"R{float(r):g}" for r in args.accelerations.split(",")]
    for key in sorted(records, key=lambda k: order.index(k.split("|")[0]) if k.split("|")[0] in order else 99):
        acceleration, set_name, cine_name = key.split("|")
        if key in results or acceleration not in order:
            continue
        index, cine = cines[(set_name, cine_name)]
        case = simulate(cine, set_acquisition(set_name, float(acceleration[1:]), index))
        results[key] = evaluate_scan(case, records[key], network, device)
        row = results[key]
        print(f"{key}: oracle {row['oracle']:.2f}, classical {row['classical']:.2f}, network {row['network']:.2f}"
              f" (taken: {row['taken']}), {row['seconds']:.1f} s", flush=True)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    replace_section(args.output, markdown(results, args), SECTION)
    print(f"wrote the section {SECTION[3:]!r} of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
