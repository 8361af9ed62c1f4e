"""The checks every input goes through, whatever the entry point (CLI, napari, Python API).

Files: :func:`check_input_file` (a regular file, not a pipe, device, socket or folder; no larger
than the limit), :func:`check_decoded_size` / :func:`check_decoded_bytes` (what an array will take
in memory once decoded, judged from its header *before* it is decompressed), :func:`check_cine_size`
(the same, counting the float32 / complex64 copy a reader makes of it) and :func:`read_json`
(a checked JSON object).
Arrays: :func:`cast_finite` (finite *after* the cast to the working dtype), :func:`check_kspace`,
:func:`check_mask` (shape, values 0/1, at least one sample), :func:`check_sampling` (mask options
that give a non-empty, valid mask) and :func:`check_spacing`.
Values (options, configuration tables, model cards, checkpoints, settings files): a :class:`Rule`
(``integer``, ``number``, ``one_of``, ``text``, ``nullable``, ``BOOLEAN``, ``OBJECT``) says what a valid
value is; :func:`check_value`, :func:`check_keys` and :func:`check_fields` apply rules, so every
refusal reads "<source>: <name> must be <what>, got <value>" or "<source>: unknown <kind> <name>
(known: ...)".

The size limit
--------------
No input may decode to more than ``max_decoded_bytes()`` bytes (a cine counts its decoded array plus
the float32 or complex64 copy the reader makes of it): 4 GB by default, or the value of
the environment variable ``DYNMRI_MAX_DECODED_BYTES`` (an integer number of bytes, or with a
``K``/``M``/``G``/``T`` suffix, e.g. ``16G``). The limit is read at every check, so it can be raised
for one command: ``DYNMRI_MAX_DECODED_BYTES=16G dynmri recon big.h5 -o out.npz``.

Every check raises :class:`InputError` (a ``ValueError``) whose message is one line naming the
source and the reason. No torch, napari or Qt here.
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

LIMIT_VARIABLE = "DYNMRI_MAX_DECODED_BYTES"
DEFAULT_MAX_DECODED_BYTES = 4 * 10**9
# JSON inputs (model cards, settings, training state) are small; anything larger is not one of ours.
MAX_JSON_BYTES = 64 * 10**6
# Images smaller than this in H or W are refused: the masks, SSIM's 7 x 7 window and the networks need more.
MIN_IMAGE_SIZE = 8
# A pixel spacing outside this range (mm) is not a physical image (and 1 / spacing overflows writers).
SPACING_RANGE_MM = (1e-6, 1e6)
# No Cartesian cine is accelerated further; larger factors only overflow the mask generators.
MAX_ACCELERATION = 1000.0
_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


class InputError(ValueError):
    """An input (file, array, option) that cannot be used; the message names it and says why, in one line."""


def fail(source, reason: str, error: type[InputError] = InputError) -> InputError:
    """An ``error`` (an :class:`InputError`) reading ``"<source>: <reason>"``, whitespace collapsed to one line."""
    return error(" ".join(f"{source}: {reason}".split()))


def _refusal(source, reason: str) -> InputError:
    """:func:`fail`, or the bare reason when no source is known (an option or a tensor in memory)."""
    return fail(source, reason) if source is not None else InputError(" ".join(reason.split()))


def max_decoded_bytes() -> int:
    """The decoded-size limit in bytes: ``$DYNMRI_MAX_DECODED_BYTES`` or 4 GB (see the module docstring)."""
    text = os.environ.get(LIMIT_VARIABLE, "").strip().upper().removesuffix("B")
    if not text:
        return DEFAULT_MAX_DECODED_BYTES
    unit = text[-1] if text[-1] in _UNITS else ""
    try:
        value = float(text[: len(text) - len(unit)])
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{LIMIT_VARIABLE}={os.environ[LIMIT_VARIABLE]!r} is not a size such as 4000000000 or 16G")
    return int(value * _UNITS[unit])


def _size(n_bytes: float) -> str:
    """``n_bytes`` for people: ``"28.8 GB"``, ``"4 kB"``."""
    for unit, factor in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= factor:
            return f"{n_bytes / factor:.3g} {unit}"
    return f"{int(n_bytes)} bytes"


def check_decoded_size(shape, dtype, source, what: str = "the data") -> int:
    """Number of bytes of an array of ``shape`` and ``dtype`` once decoded; over the limit raises.

    ``shape`` comes from a header (npz/npy, HDF5, TIFF, NIfTI, DICOM), so nothing has been
    decompressed yet. Returns the size in bytes.
    """
    dims = [int(s) for s in shape]
    if any(s < 0 for s in dims):
        raise fail(source, f"{what} has a negative dimension {tuple(dims)}")
    n_bytes = math.prod(dims) * np.dtype(dtype).itemsize
    return check_decoded_bytes(n_bytes, source, f"{what} {tuple(dims)} {np.dtype(dtype)}")


def working_dtype(dtype) -> np.dtype:
    """The dtype a reader turns stored data of ``dtype`` into: complex64 for complex data, else float32."""
    return np.dtype(np.complex64 if np.dtype(dtype).kind == "c" else np.float32)


def check_cine_size(shape, dtype, source, what: str = "the cine") -> int:
    """Bytes a cine of ``shape`` stored as ``dtype`` takes while a reader makes it; over the limit raises.

    Counts what the tool makes of it, not the stored size alone: the decoded array plus its
    float32 (complex64 for complex data) working copy when the stored dtype differs, so a file of
    1 GB of uint8 counts 5 GB (it is decoded, then converted to 4 GB of float32). Compound
    ``real`` / ``imag`` data (MATLAB v7.3 complex) counts a complex copy as well. Returns the bytes.
    """
    dims = [int(s) for s in shape]
    if any(s < 0 for s in dims):
        raise fail(source, f"{what} has a negative dimension {tuple(dims)}")
    stored = np.dtype(dtype)
    n = math.prod(dims)
    if stored.names is not None:  # a compound of real / imag fields: combined into a complex array first
        working = np.dtype(np.complex64)
        n_bytes = n * (stored.itemsize + 2 * working.itemsize)
    else:
        working = working_dtype(stored) if stored.kind in "biufc" else stored
        n_bytes = n * stored.itemsize + (n * working.itemsize if working != stored else 0)
    limit = max_decoded_bytes()
    if n_bytes > limit:
        made = "" if working == stored else f" (decoded, then converted to {working})"
        raise fail(source, f"{what} {tuple(dims)} {stored} would take {_size(n_bytes)} in memory{made}, over the "
                   f"limit of {_size(limit)} (set {LIMIT_VARIABLE} to raise it)")
    return n_bytes


def check_decoded_bytes(n_bytes: int, source, what: str = "the data") -> int:
    """``n_bytes`` (what ``what`` takes once decoded) when within :func:`max_decoded_bytes`; else raises."""
    limit = max_decoded_bytes()
    if n_bytes > limit:
        raise fail(source, f"{what} would take {_size(n_bytes)} in memory, over the limit of "
                   f"{_size(limit)} (set {LIMIT_VARIABLE} to raise it)")
    return n_bytes


def _kind(mode: int) -> str | None:
    """What a non-regular file is, from its ``st_mode``."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def check_input_file(path, max_bytes: int | None = None) -> Path:
    """``path`` as a ``Path`` when it is an existing regular file of at most ``max_bytes`` bytes.

    Pipes, devices, sockets and folders are refused before anything opens them (opening a FIFO
    blocks). ``max_bytes`` defaults to :func:`max_decoded_bytes` (a file never decodes to less
    than it stores, except compressed formats, whose decoded size is checked separately).
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise fail(path, "does not exist") from None
    except OSError as err:
        raise fail(path, f"cannot be read ({err.strerror or err})") from None
    kind = _kind(mode)
    if kind is not None:
        raise fail(path, f"is {kind}, not a regular file")
    size = path.stat().st_size
    limit = max_decoded_bytes() if max_bytes is None else max_bytes
    if size > limit:
        raise fail(path, f"is {_size(size)}, over the limit of {_size(limit)} (set {LIMIT_VARIABLE} to raise it)")
    return path


def read_json(path, what: str = "JSON file", allow_nan: bool = False) -> dict:
    """The JSON object stored in ``path`` (a checked regular file of at most ``MAX_JSON_BYTES``).

    Raises :class:`InputError` naming the file when it is missing, special, too large, not UTF-8,
    not JSON, or not an object (``{...}``). NaN and Infinity tokens are refused unless ``allow_nan``
    (files the package itself writes that way, such as a training checkpoint's state).
    """
    path = check_input_file(path, MAX_JSON_BYTES)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise fail(path, f"is not a {what}: not UTF-8 text") from None
    except OSError as err:
        raise fail(path, f"cannot be read ({err.strerror or err})") from None
    try:
        value = json.loads(text, parse_constant=float if allow_nan else _refuse_constant)
    except (json.JSONDecodeError, ValueError, RecursionError) as err:
        raise fail(path, f"is not a {what}: not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise fail(path, f"is not a {what}: expected a JSON object {{...}}, got {type(value).__name__}")
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def cast_finite(array, dtype, source, what: str = "the data") -> np.ndarray:
    """``array`` cast to ``dtype`` (float32, complex64, ...), refusing NaN or infinite values *after* the cast.

    A value beyond the range of ``dtype`` (e.g. 1e39 into float32) becomes infinite in the cast,
    so it is refused too. Non-numeric dtypes are refused.
    """
    array = np.asarray(array)
    if array.dtype.kind not in "biufc":
        raise fail(source, f"{what} is not numeric (dtype {array.dtype})")
    target = np.dtype(dtype)
    if target.kind != "c" and array.dtype.kind == "c":
        raise fail(source, f"{what} is complex (dtype {array.dtype}) where real values are expected")
    with np.errstate(over="ignore", invalid="ignore"):
        cast = array.astype(target, copy=False)
    if not np.isfinite(cast).all():
        raise fail(source, f"{what} contains NaN or infinite values (or values beyond {target})")
    return cast


def check_axes(shape, axes: str, what: str, source=None) -> tuple[int, ...]:
    """``shape`` as a tuple when it has one axis per name of ``axes`` (e.g. ``"(B, T, H, W)"``); else raises
    "<source>: <what> must be <axes>, got shape <shape>"."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != len(axes.split(",")):
        raise _refusal(source, f"{what} must be {axes}, got shape {shape}")
    return shape


def check_same_shape(a, b, what: str, source=None) -> None:
    """Refuse arrays or tensors ``a`` and ``b`` (``what`` names them: "out and target") of different shapes."""
    if tuple(a.shape) != tuple(b.shape):
        raise _refusal(source, f"{what} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def check_image_shape(shape, source, what: str = "the cine", min_size: int = MIN_IMAGE_SIZE) -> tuple[int, int, int]:
    """``(T, H, W)`` with ``T >= 1`` and ``H, W >= min_size``; anything else raises."""
    t, h, w = shape = check_axes(shape, "(T, H, W)", what, source)
    if t < 1 or min(h, w) < min_size:
        raise fail(source, f"{what} {shape} is too small: it needs at least 1 frame of {min_size} x "
                   f"{min_size} pixels")
    return shape


def check_kspace(kspace, source, what: str = "kspace") -> np.ndarray:
    """Complex ``(T, H, W)`` k-space as finite complex64; real, integer or mis-shaped arrays raise."""
    kspace = np.asarray(kspace)
    if kspace.dtype.kind != "c":
        raise fail(source, f"{what} must be complex, got dtype {kspace.dtype}")
    check_image_shape(kspace.shape, source, what)
    return cast_finite(kspace, np.complex64, source, what)


def check_mask(mask, shape, source, what: str = "mask") -> np.ndarray:
    """A sampling mask of ``shape`` as bool: values must be 0/1 (or bool) and at least one sampled."""
    mask = np.asarray(mask)
    if tuple(mask.shape) != tuple(shape):
        raise fail(source, f"{what} shape {tuple(mask.shape)} does not match the k-space shape {tuple(shape)}")
    if mask.dtype != bool:
        if mask.dtype.kind not in "biuf" or not np.isin(mask, (0, 1)).all():
            raise fail(source, f"{what} must hold only 0/1 or true/false, got dtype {mask.dtype}")
        mask = mask.astype(bool)
    if not mask.any():
        raise fail(source, f"{what} samples nothing (all false): there is no data to reconstruct from")
    return mask


def check_sampling(acceleration, center_lines, n_rows: int | None = None, source="the mask options") -> None:
    """Refuse mask options that give an invalid or empty mask, before any mask is drawn.

    ``acceleration`` must be a finite number in ``[1, MAX_ACCELERATION]``; ``center_lines`` an
    integer >= 0 and, when ``n_rows`` (H) is known, below H. Without centre lines the acceleration
    may not exceed H (a frame would keep no line).
    """
    try:
        r = float(acceleration)
    except (TypeError, ValueError):
        raise fail(source, f"acceleration must be a number, got {acceleration!r}") from None
    if not (math.isfinite(r) and 1 <= r <= MAX_ACCELERATION):
        raise fail(source, f"acceleration must be a number between 1 and {MAX_ACCELERATION:g}, got {acceleration!r}")
    if isinstance(center_lines, bool) or not isinstance(center_lines, (int, np.integer)) or center_lines < 0:
        raise fail(source, f"center lines must be an integer >= 0, got {center_lines!r}")
    if n_rows is None:
        return
    if center_lines >= n_rows:
        raise fail(source, f"{center_lines} centre lines leave none of the {n_rows} rows to undersample; use fewer")
    if center_lines == 0 and r > n_rows:
        raise fail(source, f"acceleration {r:g} without centre lines samples no row of {n_rows}; lower the "
                   "acceleration or keep centre lines")


def check_spacing(value, source) -> tuple[float, float] | None:
    """``(row, col)`` pixel spacing in mm as two floats in ``SPACING_RANGE_MM``, or None for None."""
    if value is None:
        return None
    try:
        spacing = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        raise fail(source, f"has an invalid pixel spacing {value!r}; expected two positive values in mm") from None
    low, high = SPACING_RANGE_MM
    if spacing.shape != (2,) or not np.all((spacing >= low) & (spacing <= high)):
        raise fail(source, f"has an invalid pixel spacing {spacing.tolist()}; expected two values between "
                   f"{low:g} and {high:g} mm")
    return float(spacing[0]), float(spacing[1])


# ----------------------------------------------------------------------------- values
# Options, configuration tables, model cards, training checkpoints and settings files check their
# values with these, so every refusal reads the same: "<source>: <name> must be <what>, got <value>"
# and "<source>: unknown <kind> <name> (known: a, b, c)".


@dataclass(frozen=True)
class Rule:
    """What a valid value is: a ``test`` of the value and ``what`` passes it, in words ("an integer >= 1")."""

    test: Callable[[Any], bool]
    what: str


def is_integer(value) -> bool:
    """True for a Python or numpy integer; a bool is not one."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value, finite: bool = True) -> bool:
    """True for a real number (integer or float, Python or numpy), finite unless ``finite`` is False;
    a bool is not one."""
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return real and (not finite or math.isfinite(value))


def _bounds(low, high, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        if low_open or high_open:
            return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        return f" between {low:g} and {high:g}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""


def integer(low: int | None = None, high: int | None = None) -> Rule:
    """An integer (not a bool) in ``[low, high]`` (either bound may be None)."""
    return Rule(lambda v: is_integer(v) and (low is None or v >= low) and (high is None or v <= high),
                f"an integer{_bounds(low, high)}")


def number(low: float | None = None, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False) -> Rule:
    """A finite real number between ``low`` and ``high`` (either may be None; ``*_open`` excludes the bound)."""

    def test(v) -> bool:
        if not is_number(v):
            return False
        above = low is None or (v > low if low_open else v >= low)
        below = high is None or (v < high if high_open else v <= high)
        return above and below

    return Rule(test, f"{'a finite number' if low is None and high is None else 'a number'}"
                      f"{_bounds(low, high, low_open, high_open)}")


def one_of(choices) -> Rule:
    """One of ``choices`` (strings or other hashable values)."""
    choices = tuple(choices)
    return Rule(lambda v: any(type(v) is type(c) and v == c for c in choices),
                f"one of {', '.join(str(c) for c in choices)}")


def text(what: str = "a non-empty string") -> Rule:
    """A string that is not blank; ``what`` says what it names ("a device name")."""
    return Rule(lambda v: isinstance(v, str) and v.strip() != "", what)


def nullable(rule: Rule) -> Rule:
    """``rule``, or null (None)."""
    return Rule(lambda v: v is None or rule.test(v), f"{rule.what} or null")


BOOLEAN = Rule(lambda v: isinstance(v, bool), "true or false")
OBJECT = Rule(lambda v: isinstance(v, dict), "an object")


def shown(value) -> str:
    """``value`` as a message shows it: as JSON (``null``, ``true``, ``"2"``), shortened to 60 characters."""
    try:
        written = json.dumps(value, default=repr)
    except (TypeError, ValueError):
        written = repr(value)
    return written if len(written) <= 60 else written[:57] + "..."


def must_be(name: str, what: str, value, source=None) -> InputError:
    """The one refusal of a value: an :class:`InputError` "<source>: <name> must be <what>, got <value>"."""
    return _refusal(source, f"{name} must be {what}, got {shown(value)}")


def check_value(value, rule: Rule, name: str, source=None):
    """``value`` when ``rule`` passes it; else the :func:`must_be` refusal."""
    if not rule.test(value):
        raise must_be(name, rule.what, value, source)
    return value


def check_keys(values, known, kind: str, source=None, prefix: str = "") -> None:
    """Refuse a key of ``values`` that is not in ``known``: "<source>: unknown <kind> <prefix><key> (known: ...)"."""
    known = list(known)
    for key in values:
        if key not in known:
            raise _refusal(source, f"unknown {kind} {prefix + str(key)!r} (known: {', '.join(map(str, known))})")


def check_fields(values, rules: dict[str, Rule], source=None, *, kind: str = "key", prefix: str = "",
                 required: bool = False) -> dict:
    """``values`` (a mapping) when every key is in ``rules`` and passes its rule; the refusals name
    ``prefix + key``. With ``required``, a missing key is refused too ("<name> is missing")."""
    check_keys(values, rules, kind, source, prefix)
    for key, rule in rules.items():
        if key in values:
            check_value(values[key], rule, prefix + key, source)
        elif required:
            raise _refusal(source, f"{prefix + key} is missing")
    return dict(values)
