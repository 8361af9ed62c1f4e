"""Atomic file output: every file the package writes appears whole or not at all.

:func:`atomic_output` hands out a temporary path in the destination's own folder (so the final
rename never crosses file systems), then fsyncs it and renames it over the destination with
``os.replace``; on any failure (an exception, Ctrl-C) the temporary file is removed and the old
file, if any, is untouched. It never replaces what the caller did not ask to replace, and it
refuses a dangling symbolic link at the destination (writing through it would create a file
wherever the link points).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

PARTIAL_PREFIX = ".partial-"


def check_output_path(path, overwrite: bool = False, *, folder_must_exist: bool = True) -> Path:
    """``path`` as a ``Path`` when it may be written: not a folder, not a dangling link, absent unless
    ``overwrite``, in a folder that exists (unless ``folder_must_exist`` is False).

    Raises ``FileExistsError`` when it exists and ``overwrite`` is False, ``IsADirectoryError`` for a
    folder, ``FileNotFoundError`` for a missing folder (a typo in ``-o`` never creates folders) and
    ``ValueError`` for a dangling symbolic link, each naming the path.
    """
    path = Path(path)
    if folder_must_exist and not path.parent.is_dir():
        missing = path.parent
        while not missing.parent.is_dir() and missing.parent != missing:
            missing = missing.parent
        what = "is not a folder" if missing.exists() else "does not exist"
        raise FileNotFoundError(f"cannot write {path}: {missing} {what}; create the folder first "
                                f"(mkdir -p {path.parent})")
    if path.is_symlink() and not path.exists():
        raise ValueError(f"{path} is a symbolic link to a missing file; remove it or choose another output")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite (overwrite=True in Python) to replace it")
    return path


def check_not_an_input(output, *inputs) -> None:
    """Refuse an output that is one of the ``inputs`` (paths; other specs such as ``sample:pig`` are
    ignored): even with ``--overwrite`` the user asked to replace an output, not their data."""
    output = Path(output)
    if not output.exists():
        return
    for spec in inputs:
        path = Path(str(spec))
        if path.exists() and path.resolve() == output.resolve():
            raise ValueError(f"{output} is also the input; write the output to another file")


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; some platforms cannot open folders, which is harmless there."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_output(path, overwrite: bool = False) -> Iterator[Path]:
    """Context manager: write to the yielded temporary path; on success it becomes ``path``.

    The temporary name keeps ``path``'s name at its end (``.partial-<hex>-<name>``), so libraries
    that pick a format from the extension (nibabel, tifffile) see the right one. Missing parent
    folders are created (commands refuse a missing output folder first, with
    :func:`check_output_path`). See :func:`check_output_path` for what is refused. An ``OSError``
    while writing (a full disk, a folder without write permission) names ``path``, never the
    temporary file.
    """
    path = check_output_path(path, overwrite, folder_must_exist=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _naming(err, path, path.parent) from None
    partial = path.with_name(f"{PARTIAL_PREFIX}{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        yield partial
        _fsync(partial)
        check_output_path(path, overwrite, folder_must_exist=False)  # it may have appeared while we wrote
        os.replace(partial, path)
        _fsync_folder(path.parent)
    except OSError as err:
        if isinstance(err, (FileExistsError, IsADirectoryError)) and partial.name not in str(err):
            raise
        raise _naming(err, path, partial) from None
    finally:
        partial.unlink(missing_ok=True)


def _naming(err: OSError, path: Path, partial: Path) -> OSError:
    """``err`` told about ``path``, the file the caller asked for: "cannot write PATH: <reason>"."""
    reason = err.strerror or str(err) or type(err).__name__
    for name in (str(partial), partial.name):
        reason = reason.replace(name, str(path))
    named = type(err)(f"cannot write {path}: {reason}")
    named.errno = err.errno  # kept for callers that test it; the message has no "[Errno N]" prefix
    return named


def write_text(path, text: str, overwrite: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    with atomic_output(path, overwrite) as partial:
        partial.write_text(text, encoding="utf-8")
    return Path(path)
