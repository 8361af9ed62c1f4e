"""The options of every reconstruction method, declared once: what each is, its default and its range.

Each method class of :mod:`napari_dynmri.recon.methods` declares its options as a tuple of
:class:`Option` (the compressed-sensing methods derive their weights from ``default_weights``, so a
weight's default lives in one place); networks share
:attr:`NetworkMethod.options <napari_dynmri.recon.network.NetworkMethod>`. :func:`check_options` is
what :func:`~napari_dynmri.recon.get_method` accepts; :mod:`napari_dynmri.recon.registry` collects
every declaration for what offers options: the flags of ``dynmri recon``, the rules of the settings
JSON (:mod:`napari_dynmri.recon.settings`) and the controls of the Reconstruct widget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from napari_dynmri.validation import BOOLEAN, Rule, check_value, integer, number, one_of, text

AUTO = "auto"
# the registry's key for the options every network takes (a network is named by any other spec)
NETWORK = "a network"


@dataclass(frozen=True)
class Option:
    """One option of a reconstruction method.

    ``kind`` is ``bool``, ``int``, ``float`` or ``str``; ``default`` the value an absent option means
    (``None``: the method decides, as ``help`` says); ``low`` / ``high`` bound a number (either may be
    None), ``choices`` list a string's values. ``auto``: ``"auto"`` is accepted too and is what an
    absent option means, the value then being chosen per scan by cross-validation starting from
    ``default``. ``needs``: the name of a boolean option that must be on for this one to apply.
    ``methods``: the methods that take it, filled in by :func:`registry`.
    """

    name: str
    kind: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    auto: bool = False
    needs: str | None = None
    methods: tuple[str, ...] = ()

    @property
    def unset(self) -> bool | None:
        """The value that records this option as not given: ``False`` for a switch (every switch is off
        unless given, as a flag left out), ``None`` otherwise."""
        return False if self.kind is bool else None

    @property
    def rule(self) -> Rule:
        """What a given value may be, in :mod:`napari_dynmri.validation`'s vocabulary."""
        if self.kind is bool:
            rule = BOOLEAN
        elif self.kind is int:
            rule = integer(self.low, self.high)
        elif self.kind is float:
            rule = number(self.low, self.high)
        else:
            rule = one_of(self.choices) if self.choices else text()
        if not self.auto:
            return rule
        return Rule(lambda v: v == AUTO or rule.test(v), f'{rule.what} or "{AUTO}"')

    def parse(self, value: str):
        """``value`` as typed on a command line, converted to ``kind`` where it reads as one (``"auto"``
        lower-cased); left as typed otherwise, for :func:`check_options` to refuse in the one format."""
        if self.auto and value.strip().lower() == AUTO:
            return AUTO
        if self.kind in (int, float):
            try:
                return self.kind(value)
            except ValueError:
                return value
        return value


def check_options(spec: str, declared: tuple[Option, ...], values: dict) -> dict:
    """``values`` (option name -> value, ``None`` meaning absent) checked against ``declared``, the options
    of the method ``spec``.

    Returns the given ones (``None`` dropped). An option ``spec`` does not take, or a value its rule
    refuses, raises one ``ValueError`` line ("method 'cs-xf': lam must be a number >= 0 or "auto", got -1").
    """
    options = {option.name: option for option in declared}
    given = {key: value for key, value in values.items() if value is not None}
    unknown = sorted(set(given) - set(options))
    if unknown:
        raise ValueError(f"method {spec!r} has no option(s) {', '.join(unknown)}; "
                         f"it takes {', '.join(options) if options else 'none'}")
    for key, value in given.items():
        check_value(value, options[key].rule, key, f"method {spec!r}")
    return given
