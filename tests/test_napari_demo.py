"""``dynmri demo`` end to end in a hidden viewer; zero filling stands in for the (slow) reconstruction."""

import re

from napari_dynmri._napari import _demo, _reconstruct_widget
from napari_dynmri.cli import build_parser, main
from napari_dynmri.recon import DEFAULT_METHOD, ZeroFilled


def test_demo_lists_in_help():
    assert "demo" in build_parser().format_help()
    args = build_parser().parse_args(["demo", "--no-show"])
    assert (args.sample, args.acceleration, args.model, args.device) == ("pig", 8.0, None, "auto")


def test_demo_undersamples_reconstructs_and_compares(monkeypatch, capsys, qtbot):
    specs = []
    monkeypatch.setattr(_reconstruct_widget, "get_method",
                        lambda spec, device, **options: specs.append(spec) or ZeroFilled())
    assert main(["demo", "--no-show", "--sample", "phantom"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^zero-filled: PSNR \d+\.\d\d dB, SSIM 0\.\d{4}$", out, re.M)
    recon = re.search(r"^recon \((.+)\): PSNR (\d+\.\d\d) dB", out, re.M)
    zero_filled_psnr = float(re.search(r"^zero-filled: PSNR (\d+\.\d\d)", out, re.M).group(1))
    assert recon and recon.group(1) == specs[0]
    assert float(recon.group(2)) == zero_filled_psnr  # the stand-in returns the zero-filled image
    assert specs == [DEFAULT_METHOD]


def test_demo_model_prefers_what_the_user_names():
    assert _demo.demo_model("some/checkpoint.safetensors") == "some/checkpoint.safetensors"
    assert _demo.demo_model(None) == DEFAULT_METHOD
