"""Every option of every method, declared once (napari_dynmri.recon.options), is reachable from
``dynmri recon`` and from the Reconstruct widget, and a weight's default is written in one place."""

import re
from pathlib import Path

import pytest

import napari_dynmri
from napari_dynmri.cli import main
from napari_dynmri.recon import methods, sparse
from napari_dynmri.recon.options import AUTO, NETWORK, Option
from napari_dynmri.recon.registry import declarations, option_names, registry

SRC = Path(napari_dynmri.__file__).parent
NETWORK_SPEC = "some-checkpoint"  # any spec that is not a built-in method names a network
CASES = [(method, option) for method, options in registry().items() for option in options]


def spec_of(method: str) -> str:
    return NETWORK_SPEC if method == NETWORK else method


def other_value(option: Option):
    """A value of ``option`` other than its default, as the method receives it."""
    if option.kind is bool:
        return True
    if option.kind is str:
        return "refiner"
    return option.default + 1 if option.kind is int else option.default * 2


class Reached(Exception):
    """Stops ``dynmri recon`` once ``get_method`` has been called (no input is read)."""


@pytest.mark.parametrize("method, option", CASES, ids=[f"{m}:{o.name}" for m, o in CASES])
def test_every_option_reaches_get_method_from_dynmri_recon(method, option, tmp_path, monkeypatch, capsys):
    seen = []

    def get_method(spec, device="auto", **options):
        seen.append((spec, options))
        raise Reached

    monkeypatch.setattr("napari_dynmri.recon.get_method", get_method)
    value = other_value(option)
    flag = "--" + option.name.replace("_", "-")
    args = ["recon", "input.npz", "-o", str(tmp_path / "out.npz"), "--model", spec_of(method)]
    args += [flag] if option.kind is bool else [flag, str(value)]
    needed = {option.needs: True} if option.needs else {}
    args += [f"--{name}" for name in needed]
    assert main(args) == 2 and "Reached" in capsys.readouterr().err
    assert seen == [(spec_of(method), {**needed, option.name: value})]


def test_a_flag_the_method_does_not_take_is_one_line(tmp_path, capsys):
    args = ["recon", "input.npz", "-o", str(tmp_path / "out.npz"), "--model", "cs-xf", "--half-window", "1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == "dynmri recon: error: method 'cs-xf' has no option(s) half_window; it takes lam, iterations, " \
                  "uncertainty\n"


def test_auto_weights_accept_auto_and_others_do_not():
    assert {option.name for option in declarations("lam")} == {"lam"} and all(o.auto for o in declarations("lam"))
    assert declarations("lam")[0].rule.test(AUTO) and not declarations("lam_lowrank")[0].rule.test(AUTO)


def test_every_option_has_a_control_in_the_reconstruct_widget(make_napari_viewer):
    from napari_dynmri._napari._reconstruct_widget import CHECKPOINT, ReconstructWidget, method_options

    widget = ReconstructWidget(make_napari_viewer())
    for method, options in registry().items():
        widget.model.value = CHECKPOINT if method == NETWORK else method
        widget.automatic_weight.value = False
        for option in options:
            if option.needs:
                widget.controls[option.needs].value = True
            control = widget.controls[option.name]
            assert not control.native.isHidden(), f"{method}: no control for {option.name}"
            control.value = other_value(option)
        sent = method_options(widget._recon_settings(spec_of(method)))
        assert sent == {option.name: other_value(option) for option in options}, method
        widget.automatic_weight.value = True
        assert all(widget.controls[option.name].native.isHidden() for option in options if option.auto)


def test_the_default_weight_of_cs_xf_is_written_once():
    """cs-xf's lam default is ``solvers.algorithms.XF_DEFAULT_LAM``, read by the method, the CLI help, the
    widget and the cascades' x-f start; no other code line that names a lam repeats its value (cs-lps's
    own weights happen to share it)."""
    assert methods.XFSparsityMethod.options[0].default == sparse.XF_DEFAULT_LAM
    literal = re.compile(rf"(?<![\d.]){re.escape(repr(sparse.XF_DEFAULT_LAM))}(?![\d])")
    found = []
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        for line in path.read_text(encoding="utf-8").splitlines():
            code = line.split("#", 1)[0]
            if "lam" in code.lower() and literal.search(code):
                found.append((name, code.strip()))
    declaration = ("solvers/algorithms.py", f"XF_DEFAULT_LAM = {sparse.XF_DEFAULT_LAM!r}")
    assert declaration in found
    others = [line for line in found if line != declaration and not line[1].startswith("LPS_DEFAULT_LAM")]
    assert others == []


def test_the_registry_covers_every_builtin_method_and_networks():
    assert set(registry()) == {*methods.BUILTIN_METHODS, NETWORK}
    for name in option_names():
        assert len({option.kind for option in declarations(name)}) == 1, name  # one flag, one control per name
