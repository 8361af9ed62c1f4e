"""Score reconstruction methods on cines: the one scoring loop of ``dynmri eval``, the trainer and the benchmarks.

Protocol (the one of :mod:`napari_dynmri.metrics`): every sequence is scaled to max |x| = 1 (as
:func:`napari_dynmri.data.sequences.load_sequences` gives it) and undersampled by
:func:`napari_dynmri.simulation.simulate` with one :class:`~napari_dynmri.physics.Acquisition`
(noise-free unless it says otherwise), sequence ``i`` of the evaluated list with mask seed
``acquisition.seed + i``; each method reconstructs it through :meth:`napari_dynmri.recon.ReconMethod.reconstruct`
(a network in 32-frame windows, as everywhere else); PSNR / SSIM / NMSE on magnitudes, summarised
over sequences as mean ± population standard deviation.

No napari, Qt or command-line code: the ``dynmri eval`` command, the trainer's validation and the
benchmarks all call :func:`evaluate_methods`. Data and torch modules are imported when first used,
so importing this module is fast (the acquisition spec imports numpy only).
"""

from __future__ import annotations

import dataclasses

from napari_dynmri.physics.acquisition import DEFAULT_ACQUISITION, Acquisition

SPLITS = ("test", "val", "train", "all")
METRICS = ("psnr", "ssim", "nmse")


def select_sequences(data: str, split: str) -> list[tuple[str, object]]:
    """The sequences of a data source in one part of the trainer's 5:1:2 split.

    Args:
        data: a source spec of :func:`napari_dynmri.data.sequences.load_sequences` (a cine file or
            folder, ``PATH.npz[:sax|:lax]``, ``phantom:N[:TxHxW]``).
        split: one of ``SPLITS``: ``"test"``, ``"val"`` or ``"train"`` (split with
            ``DEFAULT_SPLIT_SEED``, the default ``data.split_seed`` of training), or ``"all"``.

    Returns:
        ``[(name, cine), ...]`` with ``cine`` complex64 ``(T, H, W)``, max |cine| = 1, in the order of
        ``load_sequences``.

    Raises:
        ValueError: an unknown split, or a split of fewer than 3 sequences.
    """
    from napari_dynmri.data.sequences import DEFAULT_SPLIT_SEED, load_sequences, split_sequences

    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    sequences = load_sequences(data)
    if split == "all":
        return sequences
    if len(sequences) < 3:
        raise ValueError(
            f"{data} holds {len(sequences)} sequence(s), too few for a train/val/test split; use the split 'all'"
        )
    chosen = set(split_sequences([name for name, _ in sequences], DEFAULT_SPLIT_SEED)[split])
    return [(name, cine) for name, cine in sequences if name in chosen]


def evaluate_methods(methods, sequences, acquisition: Acquisition = DEFAULT_ACQUISITION, log=None) -> dict:
    """Reconstruct and score every sequence with every method.

    Args:
        methods: labelled :class:`napari_dynmri.recon.ReconMethod` objects, ``{label: method}`` or
            ``[(label, method), ...]`` (distinct labels, e.g. ``method.name``).
        sequences: ``[(name, cine), ...]``, complex ``(T, H, W)`` scaled to max 1.
        acquisition: the masks and k-space noise (an :class:`~napari_dynmri.physics.Acquisition`);
            sequence ``i`` is simulated with seed ``acquisition.seed + i``.
        log: optional ``callable(str)`` told about each reconstruction (``[i/n] sequence: label
            PSNR dB, SSIM (seconds)`` and what the method chose, the progress of a long evaluation).

    Returns:
        ``{label: [{"sequence", "psnr", "ssim", "nmse", "seconds", "psnr_per_frame", "ssim_per_frame",
        "settings"}, ...]}``, one row per sequence in the given order: PSNR in dB, SSIM and NMSE of the
        whole sequence, reconstruction wall time in seconds, per-frame values as lists of ``T`` floats
        and the settings the method chose on that sequence (``Reconstruction.settings``).

    Raises:
        ValueError: two methods with one label.
    """
    from napari_dynmri.metrics import evaluate
    from napari_dynmri.simulation import simulate

    pairs = list(methods.items() if isinstance(methods, dict) else methods)
    labelled = dict(pairs)
    if len(labelled) != len(pairs):
        raise ValueError(f"two methods share a label: {', '.join(label for label, _ in pairs)}")
    scores = {label: [] for label in labelled}
    for index, (name, cine) in enumerate(sequences):
        case = simulate(cine, dataclasses.replace(acquisition, seed=acquisition.seed + index))
        for label, method in labelled.items():
            result = method.reconstruct(case.kspace, case.mask)
            metrics = evaluate(result.image, case.target)
            scores[label].append(
                {
                    "sequence": name,
                    "psnr": metrics["psnr"],
                    "ssim": metrics["ssim"],
                    "nmse": metrics["nmse"],
                    "seconds": result.seconds,
                    "psnr_per_frame": [float(v) for v in metrics["psnr_per_frame"]],
                    "ssim_per_frame": [float(v) for v in metrics["ssim_per_frame"]],
                    "settings": result.settings,
                }
            )
            if log is not None:
                chosen = method.settings_summary(result.settings)
                log(f"[{index + 1}/{len(sequences)}] {name}: {label} {metrics['psnr']:.2f} dB, "
                    f"SSIM {metrics['ssim']:.3f} ({result.seconds:.1f} s)" + (f" {chosen}" if chosen else ""))
    return scores


def summarize_scores(scores: dict) -> dict:
    """Mean and spread over sequences of each method's scores.

    Args:
        scores: ``{method name: [row, ...]}`` as :func:`evaluate_methods` returns it.

    Returns:
        ``{method: {"psnr": [mean, std], "ssim": [...], "nmse": [...], "seconds": mean}}`` (PSNR in
        dB, population standard deviation, mean reconstruction seconds per sequence).
    """
    from napari_dynmri.metrics import summarize

    summary = {}
    for name, rows in scores.items():
        summary[name] = {metric: list(summarize([row[metric] for row in rows])) for metric in METRICS}
        summary[name]["seconds"] = summarize([row["seconds"] for row in rows])[0]
    return summary


def format_table(summary: dict) -> str:
    """The summary of :func:`summarize_scores` as an aligned text table, one row per method."""
    width = max(len("method"), *(len(name) for name in summary))
    lines = [f"{'method':<{width}}  {'PSNR (dB)':>15}  {'SSIM':>17}  {'NMSE':>19}  {'s/seq':>7}"]
    for name, row in summary.items():
        psnr, ssim, nmse = (row[m] for m in METRICS)
        lines.append(
            f"{name:<{width}}  {psnr[0]:7.2f} ± {psnr[1]:5.2f}  {ssim[0]:.4f} ± {ssim[1]:.4f}  "
            f"{nmse[0]:.5f} ± {nmse[1]:.5f}  {row['seconds']:7.2f}"
        )
    return "\n".join(lines)
