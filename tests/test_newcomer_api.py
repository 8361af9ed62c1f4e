"""The documented Python API (docs/api.md): every example runs, and prints what the page says it prints."""

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def examples() -> list[tuple[str, list[str]]]:
    """The page's ```python blocks: (code, expected output), the output being the whole-line ``# `` comments."""
    blocks = re.findall(r"```python\n(.*?)```", API_PAGE.read_text(encoding="utf-8"), re.S)
    return [(code, [line[2:] for line in code.splitlines() if line.startswith("# ")]) for code in blocks]


def test_the_api_page_has_examples():
    assert len(examples()) >= 5


@pytest.mark.usefixtures("one_thread")
def test_every_api_example_runs_and_prints_what_the_page_says():
    namespace: dict = {}
    for number, (code, expected) in enumerate(examples(), start=1):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"docs/api.md example {number}", "exec"), namespace)  # noqa: S102
        assert printed.getvalue().splitlines() == expected, f"example {number}:\n{code}"


def test_the_top_level_names_are_there_and_imported_lazily():
    code = (
        "import sys\n"
        "import napari_dynmri as dm\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'numpy', 'torch', 'napari', 'qtpy'})\n"
        "print(','.join(heavy))\n"
        "names = ('reconstruct', 'simulate', 'read_cine', 'write_cine', 'evaluate', 'load_sample',\n"
        "         'cine_target', 'list_methods', 'Reconstruction', 'DEFAULT_METHOD')\n"
        "print(all(callable(getattr(dm, n)) or isinstance(getattr(dm, n), str) for n in names))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.splitlines() == ["", "True"], run.stdout + run.stderr


def test_reconstruct_refuses_a_missing_device_for_every_method(monkeypatch):
    import torch

    import napari_dynmri as dm
    from napari_dynmri.data.phantom import cardiac_phantom

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    sim = dm.simulate(cardiac_phantom(4, 16, 16, seed=0), acceleration=2, center_lines=4)
    for method in ("zero-filled", "view-sharing", "cs-xf"):
        with pytest.raises(ValueError, match="device 'cuda' was requested but is not available"):
            dm.reconstruct(sim.kspace, sim.mask, method, device="cuda")
    with pytest.raises(AttributeError):
        dm.no_such_name  # noqa: B018
