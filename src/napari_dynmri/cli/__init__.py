"""The ``dynmri`` command line.

Each sub-command lives in its own module exposing ``register(subparsers)``, which adds a parser
whose ``func`` default takes the parsed ``argparse.Namespace`` and returns an exit code.

Every failure ends the same way, here and nowhere else: exit code 2 and one line on stderr,
``dynmri COMMAND: error: <what, naming the file, and why>``, never a traceback (``dynmri --debug
COMMAND ...`` shows it). Errors a user can fix are :class:`UserError`, ``ValueError`` (which
includes :class:`~napari_dynmri.validation.InputError`) or ``OSError``; anything else is reported
as unexpected. Bad options are reported the same way (no usage block). Ctrl-C gives exit code 130
and one line; a second Ctrl-C while the first one is being handled is ignored (it would otherwise
print a traceback). Warnings of the package (e.g. an acceleration the matrix cannot reach) are one
line each on stderr, ``dynmri COMMAND: warning: <what>``, printed when the command has done its work
(a failure still ends with its one line only).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
import warnings

from napari_dynmri import __version__

# Sub-commands, in the order ``dynmri --help`` lists them.
_COMMANDS = ("simulate", "recon", "eval", "info", "models", "train", "demo")
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """An error caused by the user's input, reported as one line without a traceback."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``prog: error: message``) and exit code 2."""

    def error(self, message: str):
        self.exit(EXIT_ERROR, f"{self.prog}: error: {' '.join(message.split())}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dynmri",
        description="Dynamic (cine) MRI: simulate undersampling, reconstruct, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"napari-dynmri {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMANDS:
        importlib.import_module(f"napari_dynmri.cli.{name}").register(subparsers)
    return parser


def _describe(err: BaseException) -> str:
    """One line saying what went wrong."""
    if isinstance(err, MemoryError):
        text = "not enough memory for this input (try a smaller cine, fewer frames or a crop)"
    elif isinstance(err, (UserError, ValueError, OSError)):
        text = str(err) or type(err).__name__
    else:
        text = f"unexpected {type(err).__name__}: {err} (rerun with dynmri --debug for the traceback)"
    return " ".join(text.split())


def _interrupt(signum, frame):
    """SIGINT: stop with ``KeyboardInterrupt``, and ignore any further Ctrl-C while stopping."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


@contextlib.contextmanager
def _interrupts(keep_ignoring: bool):
    """Ctrl-C handled by :func:`_interrupt` inside the block (only in the main thread, and only when
    SIGINT has Python's default handler). After the block the previous handler is back, unless
    ``keep_ignoring`` and an interrupt came: then the process, about to exit, ignores further ones."""
    owned = (threading.current_thread() is threading.main_thread()
             and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    if owned:
        signal.signal(signal.SIGINT, _interrupt)
    try:
        yield owned
    finally:
        if owned and not (keep_ignoring and signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _collect_warnings(collected: list[str]):
    """A ``warnings.showwarning`` keeping the package's own warnings (one line each, each once) in
    ``collected``; other warnings are shown as Python shows them."""
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if not str(getattr(category, "__module__", "")).startswith("napari_dynmri"):
            return original(message, category, filename, lineno, file, line)
        text = " ".join(str(message).split())
        if text not in collected:
            collected.append(text)

    return show


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dynmri`` console script; returns the process exit code."""
    own_process = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    prog = "dynmri"
    with _interrupts(keep_ignoring=own_process) as owned, warnings.catch_warnings():
        collected: list[str] = []
        warnings.showwarning = _collect_warnings(collected)
        try:
            args = build_parser().parse_args(argv)
            prog = f"dynmri {args.command}"
            code = int(args.func(args) or 0)
            for text in collected:
                print(f"{prog}: warning: {text}", file=sys.stderr)
            return code
        except KeyboardInterrupt:
            if owned:  # no further Ctrl-C while saying so
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            print(f"{prog}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Exception as err:  # the one place where every failure becomes one line
            if debug:
                raise
            print(f"{prog}: error: {_describe(err)}", file=sys.stderr)
            return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
