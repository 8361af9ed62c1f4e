"""Trainer, configuration and ``dynmri train``: small phantom runs on CPU."""

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from napari_dynmri.cli import main
from napari_dynmri.models import load_model
from napari_dynmri.models.registry import MODEL_REGISTRY, build_model
from napari_dynmri.training import config_from_dict, load_config, train
from napari_dynmri.training.optim import learning_rate

ROOT = Path(__file__).resolve().parents[1]
ARTEFACTS = ("weights.safetensors", "model.json", "metrics.csv", "loss.png", "val_metrics.png")


def small_config(output, **top) -> dict:
    """A tiny run: 8 phantoms 8x32x32 (split 5/1/2), a one-stage naive-block cascade with 4 channels."""
    config = {
        "model": {"name": "cascade", "n_stages": 1, "block": "naive", "channels": 4, "depth": 2},
        "data": {"train": "phantom:8:8x32x32", "crop": [24, 24], "frames": 4},
        "mask": {"accelerations": [4], "center_lines": 4},
        "optimizer": {"lr": 3e-3},
        "iterations": 4,
        "batch_size": 2,
        "output": str(output),
        "val_every": 0,
        "checkpoint_every": 0,
        "log_every": 2,
        "num_threads": 1,
        "evaluate_test": False,
    }
    config.update(top)
    return config


def read_rows(folder: Path) -> list[dict]:
    with open(folder / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def weights(folder: Path) -> dict:
    return load_file(str(folder / "weights.safetensors"))


def test_cli_training_from_toml_lowers_the_loss_and_writes_every_artefact(tmp_path, capsys):
    toml = tmp_path / "run.toml"
    toml.write_text(
        f"""
iterations = 30
batch_size = 2
output = "{(tmp_path / "run").as_posix()}"
val_every = 10
checkpoint_every = 10
log_every = 5
num_threads = 1

[model]
name = "cascade"
n_stages = 1
block = "naive"
channels = 8
depth = 2

[data]
train = "phantom:8:8x32x32"
crop = [24, 24]
frames = 4

[mask]
accelerations = [4]
center_lines = 4

[optimizer]
lr = 3e-3
"""
    )
    assert main(["train", str(toml), "--quiet"]) == 0
    out = tmp_path / "run"
    for name in ARTEFACTS:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = read_rows(out)
    assert [int(r["iteration"]) for r in rows] == [5, 10, 15, 20, 25, 30]
    assert float(rows[-1]["loss_total"]) < 0.8 * float(rows[0]["loss_total"])
    assert {"val_psnr", "val_ssim", "val_psnr_zero_filled", "lr", "seconds"} <= set(rows[0])
    val = [float(r["val_psnr"]) for r in rows if r["val_psnr"]]
    assert len(val) == 3 and val[0] < val[1] < val[2]
    assert val[-1] > float(rows[-1]["val_psnr_zero_filled"]) + 1.0

    model, card = load_model(out)
    assert card["architecture"] == "cascade" and card["accelerations"] == [4.0]
    training = card["training"]
    assert training["iterations"] == 30 and training["seconds"] > 0 and training["weights"] == "best"
    assert [len(training["data"]["sequences"][k]) for k in ("train", "val", "test")] == [5, 1, 2]
    best = max((float(r["val_psnr"]), int(r["iteration"])) for r in rows if r["val_psnr"])
    assert training["weights_iteration"] == best[1]
    assert card["metrics"]["val"]["psnr"] == pytest.approx(best[0], abs=1e-3)
    assert card["metrics"]["test"]["psnr"] > 0 and card["code_version"]


def test_same_seed_same_weights_and_other_seed_other_weights(tmp_path):
    a = train(small_config(tmp_path / "a", keep="last"), quiet=True)
    b = train(small_config(tmp_path / "b", keep="last"), quiet=True)
    c = train(small_config(tmp_path / "c", keep="last", seed=1), quiet=True)
    wa, wb, wc = weights(a), weights(b), weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_resume_continues_from_the_saved_iteration_exactly(tmp_path):
    straight = train(small_config(tmp_path / "straight", iterations=6, keep="last"), quiet=True)
    first = train(small_config(tmp_path / "resumed", iterations=3, keep="last"), quiet=True)
    state = json.loads((first / "checkpoint" / "trainer.json").read_text())
    assert state["iteration"] == 3
    resumed_config = load_config(base=state["config"], overrides={"iterations": 6})
    resumed = train(resumed_config, resume=first, quiet=True)
    assert [int(r["iteration"]) for r in read_rows(resumed)] == [2, 3, 4, 6]
    assert json.loads((resumed / "model.json").read_text())["training"]["iterations"] == 6
    ws, wr = weights(straight), weights(resumed)
    assert all(torch.equal(ws[k], wr[k]) for k in ws)


def test_init_weights_start_training_from_a_checkpoint(tmp_path):
    source = train(small_config(tmp_path / "source", keep="last"), quiet=True)
    tuned = train(small_config(tmp_path / "tuned", iterations=1, keep="last", seed=5,
                               init_weights=str(source), optimizer={"lr": 1e-12}), quiet=True)
    fresh = train(small_config(tmp_path / "fresh", iterations=1, keep="last", seed=5,
                               optimizer={"lr": 1e-12}), quiet=True)
    ws, wt, wf = weights(source), weights(tuned), weights(fresh)
    assert all(torch.allclose(ws[k], wt[k], atol=1e-8) for k in ws)
    assert not all(torch.allclose(ws[k], wf[k], atol=1e-3) for k in ws)
    card = json.loads((tuned / "model.json").read_text())
    assert card["training"]["config"]["init_weights"] == str(source)


def test_init_weights_of_another_shape_are_refused(tmp_path):
    source = train(small_config(tmp_path / "source", iterations=1), quiet=True)
    wider = small_config(tmp_path / "wider", init_weights=str(source))
    wider["model"] = {**wider["model"], "channels": 6}
    with pytest.raises(ValueError, match="init_weights .* does not fit .*shape mismatch"):
        train(wider, quiet=True)


def test_output_folder_of_a_run_is_not_overwritten_by_accident(tmp_path):
    train(small_config(tmp_path / "run", iterations=1), quiet=True)
    with pytest.raises(ValueError, match="already holds a training run"):
        train(small_config(tmp_path / "run", iterations=1), quiet=True)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"learning_rate": 0.1}, "unknown configuration key 'learning_rate'"),
        ({"data": {"train": "phantom:4", "crops": [8, 8]}}, "unknown configuration key 'data.crops'"),
        ({"optimizer": {"lr": -1}}, "optimizer.lr must be a positive number"),
        ({"optimizer": {"name": "rmsprop"}}, "optimizer.name must be one of adam, sgd"),
        ({"mask": {"kind": "spiral"}}, "mask.kind must be one of"),
        ({"mask": {"accelerations": [0.5]}}, "mask.accelerations must be a number >= 1"),
        ({"iterations": 0}, "iterations must be an integer >= 1"),
        ({"batch_size": "4"}, "batch_size must be an integer"),
        ({"model": {"channels": 4}}, "model.name is required"),
        ({"data": {"train": "phantom:4", "crop": [8]}}, "data.crop must be"),
        ({"schedule": {"name": "linear"}}, "schedule.name must be one of none, cosine, step"),
    ],
)
def test_bad_configurations_name_the_key(tmp_path, change, message):
    config = small_config(tmp_path / "bad")
    config.update(change)
    with pytest.raises(ValueError, match=message):
        config_from_dict(config)


def test_cli_reports_bad_options_in_one_line(tmp_path, capsys):
    assert main(["train", "--model", "cascade", "--train-data", "phantom:4", "--set", "optimizer.lrate=1",
                 "-o", str(tmp_path / "x"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown configuration key 'optimizer.lrate'" in err
    assert main(["train", "--model", "unet", "--train-data", "phantom:4:4x16x16", "-o", str(tmp_path / "y"), "-q",
                 "--device", "cpu"]) == 2
    assert "unknown model architecture 'unet'" in capsys.readouterr().err


def test_flags_override_the_file_and_schedules():
    base = small_config("x")
    config = load_config(base=base, overrides={"optimizer.lr": 0.5, "data.crop": 0, "mask.accelerations": [8]})
    assert config.optimizer.lr == 0.5 and config.data.crop is None and config.mask.accelerations == [8.0]
    assert config.data.frames == 4  # untouched keys keep the file's value
    cosine = load_config(base=base, overrides={"schedule.name": "cosine", "schedule.min_lr": 0.0, "iterations": 10})
    assert learning_rate(cosine, 0) == pytest.approx(3e-3) and learning_rate(cosine, 5) == pytest.approx(1.5e-3)
    step = load_config(base=base, overrides={"schedule.name": "step", "schedule.step_size": 2, "schedule.gamma": 0.1})
    assert learning_rate(step, 3) == pytest.approx(3e-4)


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.toml")), ids=lambda p: p.name)
def test_example_configs_are_valid(path):
    config = load_config(path)
    assert config.model["name"] in MODEL_REGISTRY and config.data.train


@pytest.mark.parametrize(
    "change, message",
    [
        (('name = "cascade"', 'name = "dc-cnn"'), "unknown model architecture 'dc-cnn'"),
        (("n_stages = 2", "n_stage = 2"), "unknown option.*'n_stage' for model 'cascade'"),
        (("channels = 8", "channels = 0"), "option 'channels' of model 'cascade' must be"),
        (("frames = 10", "frame = 10"), "unknown configuration key 'data.frame'"),
        (("val_every = 50", "val_evry = 50"), "unknown configuration key 'val_evry'"),
    ],
    ids=["architecture", "model-option", "model-value", "data-key", "top-level-key"],
)
def test_an_example_config_with_a_bad_model_or_misspelt_key_is_refused(tmp_path, change, message):
    text = (ROOT / "configs" / "phantom_smoke.toml").read_text()
    assert change[0] in text
    (tmp_path / "bad.toml").write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(ValueError, match=message):
        load_config(tmp_path / "bad.toml")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_gloo_ddp_writes_one_set_of_artefacts(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "PYTHONPATH": str(ROOT / "src")}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}", "-m", "napari_dynmri.cli", "train",
        "--model", "cascade", "--set", "model.n_stages=1", "--set", "model.block='naive'", "--set", "model.channels=4",
        "--set", "model.depth=2",
        "--train-data", "phantom:8:8x32x32", "--crop", "24", "--frames", "4", "--acceleration", "4", "6", "--center-lines", "4",
        "--iterations", "3", "--batch-size", "1", "--optimizer", "sgd", "--lr", "0.05", "--device", "cpu",
        "--num-threads", "1",
        "--set", "evaluate_test=false", "-o", str(out), "-q",
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ARTEFACTS:
        assert (out / name).is_file(), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp"]  # rank 1 wrote nothing elsewhere
    card = json.loads((out / "model.json").read_text())
    assert card["training"]["world_size"] == 2 and card["training"]["iterations"] == 3
    (row,) = read_rows(out)
    assert int(row["iteration"]) == 3 and np.isfinite(float(row["loss_total"]))
    assert float(row["val_psnr_R4"]) > float(row["val_psnr_R6"]) > 0  # validation per acceleration
    model, _ = load_model(out)

    # 2 processes x batch 1 train on the samples of 1 process x batch 2: same weights up to rounding
    # (SGD: Adam would amplify rounding differences of near-zero gradients)
    single = small_config(tmp_path / "single", iterations=3, batch_size=2, optimizer={"name": "sgd", "lr": 0.05})
    single["mask"] = {"accelerations": [4, 6], "center_lines": 4}
    reference, ddp = weights(train(single, quiet=True)), weights(out)
    assert all(torch.allclose(ddp[k], reference[k], rtol=1e-5, atol=1e-7) for k in ddp)
    torch.manual_seed(0)
    initial = build_model(model.architecture, model.config).state_dict()
    assert sum(not torch.equal(initial[k], ddp[k]) for k in ddp) >= len(ddp) // 2  # the weights did train
