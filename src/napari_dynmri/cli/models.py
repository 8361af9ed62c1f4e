"""``dynmri models``: list the reconstruction models shipped with the package."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the shipped reconstruction models",
        description="List the reconstruction models shipped with napari-dynmri: name, architecture, "
        "training accelerations, test PSNR/SSIM and size; the default network is marked, and the line "
        "after the table names the default method of `dynmri recon`.",
    )
    parser.set_defaults(func=run)


def _number(value, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def _row(entry: dict, default: str) -> list[str]:
    card = entry["card"]
    accelerations = card.get("accelerations")
    if isinstance(accelerations, list) and accelerations:
        accelerations = ",".join(_number(a, "g") for a in accelerations)
    else:
        accelerations = "-"
    test = card.get("metrics", {}).get("test", {}) if isinstance(card.get("metrics"), dict) else {}
    test = test if isinstance(test, dict) else {}
    name = entry["name"] + (" (default network)" if entry["name"] == default else "")
    return [
        name,
        str(card["architecture"]),
        accelerations,
        _number(test.get("psnr"), ".2f"),
        _number(test.get("ssim"), ".4f"),
        f"{entry['size_bytes'] / 1e6:.1f} MB",
    ]


def run(args: argparse.Namespace) -> int:
    from napari_dynmri.models.pretrained import DEFAULT_MODEL, list_pretrained, pretrained_root
    from napari_dynmri.recon import DEFAULT_METHOD

    print(f"Default method of `dynmri recon`, the demo and the Reconstruct widget: {DEFAULT_METHOD}"
          " (chosen by benchmarks/generalisation.py, see docs/benchmarks.md).")
    entries = list_pretrained()
    if not entries:
        print(f"No shipped models are installed (looked in {pretrained_root()}).")
        return 0
    header = ["name", "architecture", "accelerations", "test PSNR", "test SSIM", "size"]
    rows = [header] + [_row(entry, DEFAULT_MODEL) for entry in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    for entry in entries:
        if entry["description"]:
            print(f"{entry['name']}: {entry['description']}")
    return 0
