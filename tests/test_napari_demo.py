"""``dynmri demo`` end to end in a hidden viewer; zero filling stands in for the (slow) reconstruction."""

import inspect
import re
import threading

import pytest

from napari_dynmri._napari import _demo, _reconstruct_widget
from napari_dynmri.cli import build_parser, main
from napari_dynmri.data.samples import SAMPLE_NAMES
from napari_dynmri.recon import CS_XF, DEFAULT_METHOD, ZeroFilled


def test_demo_options_are_those_of_start_demo():
    parser = build_parser()
    assert "demo" in parser.format_help()
    args = parser.parse_args(["demo", "--no-show"])
    defaults = inspect.signature(_demo.start_demo).parameters
    for name in ("sample", "acceleration", "model", "device"):
        assert getattr(args, name) == defaults[name].default, f"dynmri demo --{name} and start_demo disagree"
    for name in SAMPLE_NAMES:  # every bundled sample can be demonstrated
        assert parser.parse_args(["demo", "--sample", name]).sample == name


@pytest.mark.parametrize(("argv", "expected"), [([], DEFAULT_METHOD), (["--model", CS_XF], CS_XF)],
                         ids=["default-method", "named-method"])
def test_demo_undersamples_reconstructs_and_compares(argv, expected, monkeypatch, capsys, qtbot):
    specs = []
    monkeypatch.setattr(_reconstruct_widget, "get_method",
                        lambda spec, device, **options: specs.append(spec) or ZeroFilled())
    assert main(["demo", "--no-show", "--sample", "phantom", *argv]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^zero-filled: PSNR \d+\.\d\d dB, SSIM 0\.\d{4}$", out, re.M)
    recon = re.search(r"^recon \((.+)\): PSNR (\d+\.\d\d) dB", out, re.M)
    zero_filled_psnr = float(re.search(r"^zero-filled: PSNR (\d+\.\d\d)", out, re.M).group(1))
    assert recon and recon.group(1) == specs[0]
    assert float(recon.group(2)) == zero_filled_psnr  # the stand-in returns the zero-filled image
    assert specs == [expected]


class HeldZeroFilling(ZeroFilled):
    """Zero filling that waits for ``release`` (or a cancel) first, so the test sees the demo mid-way."""

    def __init__(self, release):
        super().__init__()
        self.release = release

    def reconstruct(self, kspace, mask, progress=None, should_stop=None):
        while not self.release.wait(0.02):
            if should_stop is not None and should_stop():
                break
        return super().reconstruct(kspace, mask, progress=progress, should_stop=should_stop)


def in_front(widget) -> bool:
    """Whether ``widget``'s tab is the one shown (a tab behind another is not hidden, only covered)."""
    return not widget.native.visibleRegion().isEmpty()


def test_demo_keeps_the_reconstruct_tab_in_front_while_it_works(make_napari_viewer, qtbot, monkeypatch):
    release, finished = threading.Event(), []
    monkeypatch.setattr(_reconstruct_widget, "get_method", lambda spec, device, **options: HeldZeroFilling(release))
    viewer = make_napari_viewer(show=True)
    widgets = _demo.start_demo(viewer, sample="phantom", on_done=lambda: finished.append(True))
    qtbot.wait(200)  # the tabs have settled
    assert widgets["reconstruct"].running and widgets["reconstruct"].cancel_button.enabled
    assert in_front(widgets["reconstruct"]) and not in_front(widgets["compare"])
    release.set()
    qtbot.waitUntil(lambda: bool(finished), timeout=60_000)
    qtbot.waitUntil(lambda: in_front(widgets["compare"]), timeout=5_000)
    assert widgets["reconstruct"].status.value.startswith("done in ")
    assert viewer.layers.selection.active.visible and viewer.canvas.grid.enabled
