"""The README's commands set the system up first, and the set-up script installs only what is missing."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "install-system-packages.sh"


def readme_command(marker: str) -> str:
    """The command on the line after the fence after ``marker``, extracted as .ci/run does."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index(marker)
    assert lines[start + 1].startswith("```")
    return lines[start + 2].strip()


def test_both_readme_commands_and_ci_start_with_the_system_set_up():
    for marker in ("<!-- test-command -->", "<!-- demo-command -->"):
        assert readme_command(marker).startswith("scripts/install-system-packages.sh && ")
    assert os.access(SCRIPT, os.X_OK)
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("scripts/install-system-packages.sh") < ci.index('bash -c "$test_command"')


def fake_tools(tmp_path, uid: str, installed: set[str]) -> dict:
    """An environment whose ``id``, ``dpkg-query`` and ``apt-get`` are stand-ins; apt-get logs its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tools = {
        "id": f"echo {uid}",
        "dpkg-query": "for p in " + " ".join(sorted(installed) or ["none"])
                      + '; do [ "${@: -1}" = "$p" ] && echo installed && exit 0; done; exit 1',
        "apt-get": f'echo "$@" >> {tmp_path}/apt.log',
    }
    for name, body in tools.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}


def test_set_up_installs_only_the_missing_packages_as_root(tmp_path):
    env = fake_tools(tmp_path, "0", installed={"xvfb", "libgl1"})
    run = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    update, install = (tmp_path / "apt.log").read_text().splitlines()
    assert update == "update -qq"
    assert "libxcb-cursor0" in install.split() and "xvfb" not in install.split() and "libgl1" not in install.split()


def test_set_up_without_root_says_what_to_install_and_lets_the_tests_run(tmp_path):
    env = fake_tools(tmp_path, "1000", installed=set())
    env["PATH"] = env["PATH"].replace(":/usr/bin:/bin", ":/bin-without-sudo")
    run = subprocess.run(["/bin/bash", str(SCRIPT)], env=env, capture_output=True, text=True)
    assert run.returncode == 0
    assert not (tmp_path / "apt.log").exists()
    assert "missing xvfb libxcb-icccm4" in run.stderr and "sudo apt-get install -y" in run.stderr
