"""The ``dynmri`` command line.

Each sub-command lives in its own module exposing ``register(subparsers)``, which adds a parser
whose ``func`` default takes the parsed ``argparse.Namespace`` and returns an exit code.
Errors that a user can fix (bad input, bad options) are raised as :class:`UserError` (or
``ValueError`` / ``OSError`` from the core) and printed as one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from napari_dynmri import __version__

# Sub-command modules, in the order ``dynmri --help`` lists them.
_COMMANDS = ("simulate", "recon", "eval", "info", "models", "train", "demo")


class UserError(Exception):
    """An error caused by the user's input, reported as one line without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynmri",
        description="Dynamic (cine) MRI: simulate undersampling, reconstruct, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"napari-dynmri {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMANDS:
        importlib.import_module(f"napari_dynmri.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dynmri`` console script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, ValueError, OSError) as err:
        print(f"dynmri {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dynmri {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
