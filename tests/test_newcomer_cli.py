"""The command line as a newcomer meets it (issue 23): the demo works without a display, outputs
and errors name what the user asked for, and the options say what they do."""

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from napari_dynmri.cli import main
from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.simulation import simulate

ROOT = Path(__file__).resolve().parents[1]
PARTIAL = ".partial-"

pytestmark = pytest.mark.usefixtures("one_thread")


def run_cli(argv, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def small_sim(tmp_path) -> Path:
    path = tmp_path / "sim.npz"
    simulate(cardiac_phantom(4, 32, 32, seed=0), acceleration=4, center_lines=4, seed=0).save(path)
    return path


# ----------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("command", ["recon", "simulate", "eval"])
def test_a_missing_output_folder_is_an_error_not_created(command, small_sim, tmp_path, capsys):
    missing = tmp_path / "missing" / "dir"
    argv = {
        "recon": ["recon", small_sim, "-o", missing / "out.npz", "--model", "zero-filled", "--device", "cpu"],
        "simulate": ["simulate", "sample:phantom", "-o", missing / "out.npz"],
        "eval": ["eval", "--model", "zero-filled", "--data", "phantom:1:4x16x16", "--split", "all", "--center-lines",
                 "4", "--acceleration", "2", "--json", missing / "out.json"],
    }[command]
    line = one_line_error(*run_cli(argv, capsys)[::2])
    assert str(missing) in line and "does not exist" in line and "mkdir -p" in line
    assert not (tmp_path / "missing").exists()


def test_a_full_disk_names_the_output_not_the_temporary_file(small_sim, tmp_path, capsys, monkeypatch):
    def full(file, **arrays):
        raise OSError(28, "No space left on device", getattr(file, "name", str(file)))

    monkeypatch.setattr(np, "savez_compressed", full)
    out = tmp_path / "recon.npz"
    line = one_line_error(*run_cli(["recon", small_sim, "-o", out, "--model", "zero-filled", "--device", "cpu"],
                                   capsys)[::2])
    assert str(out) in line and "No space left on device" in line and PARTIAL not in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim.npz"]


def test_an_unwritable_folder_names_the_output(small_sim, tmp_path, capsys, monkeypatch):
    import builtins

    real_open = builtins.open

    def refusing(file, mode="r", *args, **kwargs):  # what open() says in a folder without write permission
        if PARTIAL in str(file) and "w" in mode:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing)
    out = tmp_path / "recon.npz"
    line = one_line_error(*run_cli(["recon", small_sim, "-o", out, "--model", "zero-filled", "--device", "cpu"],
                                   capsys)[::2])
    assert line == f"dynmri recon: error: cannot write {out}: Permission denied"


# ----------------------------------------------------------------------------- options


def test_an_unreachable_acceleration_warns(tmp_path, capsys):
    code, out, err = run_cli(["simulate", "sample:phantom", "-o", tmp_path / "s.npz", "--acceleration", "1000"], capsys)
    assert code == 0 and "R = 16.00 (asked 1000)" in out
    assert err.strip().splitlines() == [
        "dynmri simulate: warning: sample:phantom: acceleration 1000 cannot be reached on 128 rows with 8 centre "
        "lines; the vd-random mask reaches R = 16.00 (use fewer centre lines or a lower acceleration)"]
    code, out, err = run_cli(["simulate", "sample:phantom", "-o", tmp_path / "t.npz"], capsys)
    assert code == 0 and err == ""  # a reachable one does not


def test_recon_of_a_raw_cine_warns_about_an_unreachable_acceleration_too(tmp_path, capsys):
    cine = tmp_path / "c.npy"
    np.save(cine, np.abs(cardiac_phantom(4, 32, 32, seed=0)))
    code, _, err = run_cli(["recon", cine, "-o", tmp_path / "r.npz", "--model", "zero-filled", "--device", "cpu",
                            "--acceleration", "30", "--center-lines", "8"], capsys)
    assert code == 0 and err.startswith("dynmri recon: warning: ") and "acceleration 30 cannot be reached" in err


@pytest.mark.parametrize("model", ["zero-filled", "view-sharing", "cs-xf"])
def test_an_unavailable_device_is_the_same_error_for_every_method(model, small_sim, tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    line = one_line_error(*run_cli(["recon", small_sim, "-o", tmp_path / "r.npz", "--model", model, "--device",
                                    "cuda"], capsys)[::2])
    assert line == ("dynmri recon: error: device 'cuda' was requested but is not available here; use 'cpu' or "
                    "'auto'")
    assert not (tmp_path / "r.npz").exists()


def test_eval_refuses_an_unavailable_device_for_zero_filling_too(capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    line = one_line_error(*run_cli(["eval", "--model", "zero-filled", "--data", "phantom:1:4x16x16", "--split", "all",
                                    "--device", "cuda"], capsys)[::2])
    assert "device 'cuda' was requested but is not available" in line


def test_help_says_how_the_automatic_weight_is_chosen(capsys):
    with pytest.raises(SystemExit):
        main(["recon", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "chooses the weight per scan by cross-validation on the measured lines (see docs/benchmarks.md)" in text
    assert "The output's folder must exist" in text
    from napari_dynmri.recon.methods import CS_METHODS

    for name, method in CS_METHODS.items():  # the fixed defaults, read from the methods themselves
        assert f"{name} lam {method.default_weights['lam']:g}" in text


# ----------------------------------------------------------------------------- Ctrl-C


def test_a_second_ctrl_c_while_stopping_prints_no_traceback(monkeypatch, capsys):
    """The first Ctrl-C stops the command; a second one arriving while ``dynmri`` says so is ignored
    (it used to escape as a KeyboardInterrupt with a traceback)."""
    from napari_dynmri.cli import models

    class SecondCtrlC:
        """stderr whose first write is interrupted by another Ctrl-C."""

        def __init__(self, stream):
            self.stream, self.fired = stream, False

        def write(self, text):
            if not self.fired:
                self.fired = True
                signal.raise_signal(signal.SIGINT)
            return self.stream.write(text)

        def flush(self):
            self.stream.flush()

    def interrupted(args):
        monkeypatch.setattr(sys, "stderr", SecondCtrlC(sys.stderr))
        signal.raise_signal(signal.SIGINT)  # the first Ctrl-C, during start-up
        return 0

    monkeypatch.setattr(models, "run", interrupted)
    before = signal.getsignal(signal.SIGINT)
    try:
        code = main(["models"])
    except KeyboardInterrupt:  # what used to escape, with a traceback
        pytest.fail("the second Ctrl-C escaped dynmri as a KeyboardInterrupt")
    assert code == 130
    assert capsys.readouterr().err == "dynmri models: interrupted\n"
    assert signal.getsignal(signal.SIGINT) is before  # an in-process call leaves Ctrl-C as it was


# ----------------------------------------------------------------------------- demo


def without_display() -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return {**env, "QT_QPA_PLATFORM": "offscreen"}  # no window napari can draw in, whatever the machine


def check_demo_outputs(figure: Path, stdout: str, printed: Path | None = None) -> None:
    """The figure is a PNG, the CSV holds the sequence and per-frame scores, stdout says where (as ``printed``)."""
    printed = figure if printed is None else printed
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(figure.with_suffix(".csv").open()))
    summary = {row["result"]: float(row["psnr_db"]) for row in rows if row["frame"] == "all"}
    assert set(summary) == {"zero-filled", "recon (zero-filled)"} and len(rows) == 2 * (20 + 1)
    assert f"figure saved to {printed}" in stdout and f"metrics saved to {printed.with_suffix('.csv')}" in stdout
    assert f"zero-filled: PSNR {summary['zero-filled']:.2f} dB" in stdout


def test_demo_without_a_display_runs_headless_and_writes_the_figure(tmp_path):
    run = subprocess.run([sys.executable, "-m", "napari_dynmri.cli", "demo", "--sample", "phantom", "--model",
                          "zero-filled", "--device", "cpu"], cwd=tmp_path, env=without_display(),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stderr.startswith("dynmri demo: no window can open here (") and "runs headless" in run.stderr
    check_demo_outputs(tmp_path / "out" / "dynmri-demo.png", run.stdout, printed=Path("out") / "dynmri-demo.png")


def test_demo_headless_writes_where_asked(tmp_path, capsys):
    figure = tmp_path / "demo.png"
    code, out, err = run_cli(["demo", "--headless", "--sample", "phantom", "--model", "zero-filled", "--device",
                              "cpu", "--figure", figure], capsys)
    assert code == 0 and err == ""
    check_demo_outputs(figure, out)
    line = one_line_error(*run_cli(["demo", "--headless", "--figure", tmp_path / "no" / "demo.png"], capsys)[::2])
    assert "does not exist" in line and not (tmp_path / "no").exists()


def test_the_readme_main_command_runs_the_demo_with_or_without_a_display():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = readme.splitlines()
    demo = lines[lines.index("<!-- demo-command -->") + 2]
    assert demo.endswith(".venv/bin/dynmri demo") and "--no-show" not in demo  # the headless path is automatic
    fence = lines.index("<!-- test-command -->")
    assert lines[fence + 1] == "```bash" and "pytest" in lines[fence + 2]
    assert "pip install \"napari-dynmri" not in readme and "Install/Uninstall Plugins" not in readme
    assert "is the fast choice" not in readme
    examples = [line for line in readme.splitlines() if line.startswith(("dynmri ", ".venv/bin/dynmri "))]
    assert examples and all(line.startswith(".venv/bin/dynmri ") for line in examples)
