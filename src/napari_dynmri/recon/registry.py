"""Every method's declared options in one table, for what offers them: the flags of ``dynmri recon`` and
``dynmri eval``, the rules of the settings JSON and the controls of the Reconstruct widget."""

from __future__ import annotations

import functools
from dataclasses import replace

from napari_dynmri.recon.methods import METHOD_CLASSES
from napari_dynmri.recon.network import NetworkMethod
from napari_dynmri.recon.options import NETWORK, Option
from napari_dynmri.validation import Rule


@functools.cache
def registry() -> dict[str, tuple[Option, ...]]:
    """Method name (``NETWORK`` for every network) -> the options it takes, in declaration order."""
    declared = {name: method.options for name, method in METHOD_CLASSES.items()}
    declared[NETWORK] = NetworkMethod.options
    return {name: tuple(replace(option, methods=(name,)) for option in options) for name, options in declared.items()}


def options_of(spec: str) -> tuple[Option, ...]:
    """The options of the method ``spec`` (a built-in method's name; anything else is a network)."""
    table = registry()
    return table.get(str(spec), table[NETWORK])


def option_names() -> list[str]:
    """Every option name of every method, each once, in declaration order."""
    return list(dict.fromkeys(option.name for options in registry().values() for option in options))


def declarations(name: str) -> list[Option]:
    """Every method's declaration of the option ``name`` (one per method that takes it)."""
    return [option for options in registry().values() for option in options if option.name == name]


def any_rule(name: str) -> Rule:
    """What some method's declaration of the option ``name`` accepts (for places that record ``name``
    before a method is chosen, such as the settings JSON)."""
    rules = list({option.rule.what: option.rule for option in declarations(name)}.values())
    return rules[0] if len(rules) == 1 else Rule(lambda v: any(rule.test(v) for rule in rules),
                                                 " or ".join(rule.what for rule in rules))
