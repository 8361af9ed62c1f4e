"""Training configuration: a TOML file and/or command-line overrides, validated into :class:`TrainConfig`.

Layout of a configuration file (every key optional except ``model.name`` and ``data.train``)::

    iterations = 2000          # optimizer steps
    batch_size = 4             # samples per step and per process (DDP: global batch = this x processes)
    seed = 0                   # run seed: weights init, sample stream, masks
    device = "auto"            # auto / cpu / cuda / cuda:1 / mps
    output = "runs/my-model"   # output folder
    val_every = 200            # validate every N iterations (and at the end); 0: only at the end
    checkpoint_every = 200     # write a resumable checkpoint every N iterations (and at the end)
    log_every = 10             # metrics.csv row of training losses every N iterations
    keep = "best"              # weights kept in the output folder: "best" (validation PSNR) or "last"
    num_threads = 0            # torch CPU threads, 0: torch's default
    deterministic = true       # torch.use_deterministic_algorithms on CPU
    evaluate_test = true       # at the end, score the kept weights on the test part of the split
    init_weights = ""          # fine-tune: start from this shipped model or checkpoint folder ("": random)

    [model]                    # passed to napari_dynmri.models.registry.build_model(name, rest)
    name = "cascade"

    [loss]                     # passed to napari_dynmri.losses.build_loss
    mse = 1.0

    [data]
    train = "pig_cine_cc0.npz:sax"   # a source spec or a list of them (see data.sequences)
    val = []                   # empty: the 5:1:2 split of `train` (train part trains, val part validates)
    split_seed = 0
    crop = [96, 96]            # random crop (h, w), or a list of sizes drawn per sample; [] or 0: full images
    frames = 20                # temporal window; 0: all frames
    flips = true               # random up-down / left-right flips
    time_reversal = true       # random time reversal
    transpose = false          # swap H and W of half the samples (anatomy in both orientations)
    intensity = [0.8, 1.25]    # random intensity factor range
    random_phase = true        # random constant phase factor exp(i phi)
    max_val_sequences = 0      # validate on the first N validation sequences only; 0: all
    start = ""                 # "classical": samples hold a CS start for a refining network (model.init = "given")

    [data.variety]             # shifts to unseen scans (napari_dynmri.data.augment.Variety); all off by default
    smooth_phase = 0.5         # probability of a smooth spatial phase
    contrast = 0.3             # probability of contrast uptake / wash-out regions
    frames = [8, 40]           # frame counts by periodic resampling
    quantise = 0.3             # probability of an 8- or 12-bit magnitude export
    gamma = [0.7, 1.4]         # intensity gamma range
    noise = [0.002, 0.05]      # k-space noise standard deviation range (of max |x| = 1)
    phantoms = 0.1             # probability of a fresh random phantom

    [mask]
    kind = "vd-random"         # one of napari_dynmri.physics.MASK_KINDS, or a list drawn per sample
    accelerations = [4, 8, 12] # drawn uniformly per sample; validation uses each in turn
    center_lines = 8
    fixed = false              # true: one mask per (acceleration, shape) from `seed` (report protocol)
    seed = 0                   # seed of fixed masks and of validation masks (+ sequence index)

    [optimizer]
    name = "adam"              # adam / sgd
    lr = 1e-4
    weight_decay = 1e-8
    momentum = 0.0             # sgd only
    betas = [0.9, 0.999]       # adam only
    grad_clip = 0.0            # max gradient norm; 0: off

    [schedule]
    name = "none"              # none / cosine / step
    step_size = 1000           # step: multiply lr by gamma every step_size iterations
    gamma = 0.5
    min_lr = 0.0               # cosine: final lr

Unknown keys and bad values raise ``ValueError`` naming the key (``optimizer.lr must be ...``); so do
an unregistered ``model.name`` and a model option that architecture does not have.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from napari_dynmri.data.augment import Variety
from napari_dynmri.data.sequences import DEFAULT_SPLIT_SEED
from napari_dynmri.physics.acquisition import DEFAULT_ACQUISITION, Acquisition
from napari_dynmri.physics.masks import MASK_KINDS
from napari_dynmri.validation import (
    BOOLEAN,
    Rule,
    check_input_file,
    check_keys,
    check_sampling,
    check_value,
    integer,
    is_number,
    must_be,
    number,
    one_of,
)

OPTIMIZERS = ("adam", "sgd")
# More torch threads than this only exhausts the machine (libgomp crashes far above it).
MAX_THREADS = 256
SCHEDULES = ("none", "cosine", "step")
KEEP = ("best", "last")
MAX_CONFIG_BYTES = 10**6
POSITIVE = Rule(lambda v: is_number(v) and v > 0, "a positive number")


def _strings(value, where: str) -> list[str]:
    if isinstance(value, (str, Path)):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, Path)) for v in value):
        raise must_be(where, "a data source string or a list of them", value)
    return [str(v) for v in value if str(v)]


def _pair(value, where: str, kind, what: str) -> tuple:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise must_be(where, what, value)
    return tuple(kind(v, where) for v in value)


def _check_model(model: dict) -> None:
    """Refuse (``ValueError``) a ``[model]`` table naming an unregistered architecture, an option it
    does not have or a bad value: the network is built on torch's meta device, which allocates nothing."""
    import torch

    from napari_dynmri.models.registry import build_model

    with torch.device("meta"):
        build_model(model["name"], {key: value for key, value in model.items() if key != "name"})


def _from_dict(cls, values, where: str):
    if not isinstance(values, dict):
        raise must_be(where or "the configuration", "a table", values)
    known = {f.name for f in dataclasses.fields(cls)}
    check_keys(values, sorted(known), "configuration key", prefix=f"{where}." if where else "")
    return cls(**values)


@dataclass
class DataConfig:
    """The ``[data]`` table: sources and augmentation of training samples (see the module docstring)."""

    train: list = field(default_factory=list)
    val: list = field(default_factory=list)
    split_seed: int = DEFAULT_SPLIT_SEED
    crop: object = (96, 96)
    frames: int = 20
    flips: bool = True
    time_reversal: bool = True
    transpose: bool = False
    intensity: tuple = (0.8, 1.25)
    random_phase: bool = True
    max_val_sequences: int = 0
    start: str = ""
    variety: object = None

    def __post_init__(self):
        self.train = _strings(self.train, "data.train")
        if not self.train:
            raise ValueError("data.train is required: a data source such as 'pig_cine_cc0.npz:sax' or 'phantom:20'")
        self.val = _strings(self.val, "data.val")
        self.split_seed = check_value(self.split_seed, integer(0), "data.split_seed")
        positive_pair = lambda value: _pair(value, "data.crop", lambda v, w: check_value(v, integer(1), w),  # noqa: E731
                                            "[height, width], a list of them, or 0")
        if self.crop in (None, 0, [], ()):
            self.crop = None
        elif isinstance(self.crop, (list, tuple)) and all(isinstance(c, (list, tuple)) for c in self.crop):
            self.crop = [positive_pair(c) for c in self.crop]
        else:
            self.crop = positive_pair(self.crop)
        self.frames = check_value(self.frames, integer(0), "data.frames")
        self.flips = check_value(self.flips, BOOLEAN, "data.flips")
        self.time_reversal = check_value(self.time_reversal, BOOLEAN, "data.time_reversal")
        self.transpose = check_value(self.transpose, BOOLEAN, "data.transpose")
        low, high = _pair(self.intensity, "data.intensity", lambda v, w: float(check_value(v, POSITIVE, w)),
                          "[low, high] positive factors")
        if low > high:
            raise must_be("data.intensity", "[low, high] with low <= high", list(self.intensity))
        self.intensity = (low, high)
        self.random_phase = check_value(self.random_phase, BOOLEAN, "data.random_phase")
        self.max_val_sequences = check_value(self.max_val_sequences, integer(0), "data.max_val_sequences")
        self.start = check_value(self.start, one_of(("", "classical")), "data.start")
        if self.variety is not None:
            self.variety = _from_dict(Variety, self.variety, "data.variety")


@dataclass
class MaskConfig:
    """The ``[mask]`` table: undersampling masks of training and validation samples."""

    kind: object = DEFAULT_ACQUISITION.kind
    accelerations: list = field(default_factory=lambda: [DEFAULT_ACQUISITION.acceleration])
    center_lines: int = DEFAULT_ACQUISITION.center_lines
    fixed: bool = False
    seed: int = 0

    def __post_init__(self):
        kinds = [self.kind] if isinstance(self.kind, str) else self.kind
        if not isinstance(kinds, (list, tuple)) or not kinds:
            raise must_be("mask.kind", f"one of {', '.join(MASK_KINDS)} or a list of them", self.kind)
        kinds = [check_value(kind, one_of(MASK_KINDS), "mask.kind") for kind in kinds]
        self.kind = kinds[0] if isinstance(self.kind, str) else kinds
        values = self.accelerations if isinstance(self.accelerations, (list, tuple)) else [self.accelerations]
        self.accelerations = [float(check_value(v, number(1.0), "mask.accelerations")) for v in values]
        if not self.accelerations:
            raise must_be("mask.accelerations", "a non-empty list of factors >= 1", [])
        self.center_lines = check_value(self.center_lines, integer(0), "mask.center_lines")
        for acceleration in self.accelerations:
            check_sampling(acceleration, self.center_lines, source="mask.accelerations")
        self.fixed = check_value(self.fixed, BOOLEAN, "mask.fixed")
        self.seed = check_value(self.seed, integer(0), "mask.seed")

    @property
    def kinds(self) -> list[str]:
        """The mask kinds drawn in training; validation and test use the first."""
        return [self.kind] if isinstance(self.kind, str) else list(self.kind)

    def acquisition(self, acceleration: float | None = None) -> Acquisition:
        """The :class:`~napari_dynmri.physics.Acquisition` of validation and test at ``acceleration``
        (default: the first of ``accelerations``): the first kind, the centre lines and the seed, no noise;
        training draws its kinds and accelerations around it (``CineSamples``)."""
        return Acquisition(self.kinds[0], self.accelerations[0] if acceleration is None else acceleration,
                           self.center_lines, self.seed)


@dataclass
class OptimizerConfig:
    """The ``[optimizer]`` table: Adam (default, weight decay 1e-8) or SGD with momentum."""

    name: str = "adam"
    lr: float = 1e-4
    weight_decay: float = 1e-8
    momentum: float = 0.0
    betas: tuple = (0.9, 0.999)
    grad_clip: float = 0.0

    def __post_init__(self):
        self.name = check_value(self.name, one_of(OPTIMIZERS), "optimizer.name")
        self.lr = float(check_value(self.lr, POSITIVE, "optimizer.lr"))
        self.weight_decay = float(check_value(self.weight_decay, number(0.0), "optimizer.weight_decay"))
        self.momentum = float(check_value(self.momentum, number(0.0), "optimizer.momentum"))
        self.betas = _pair(self.betas, "optimizer.betas", lambda v, w: float(check_value(v, number(0.0), w)),
                           "[beta1, beta2]")
        if not all(b < 1 for b in self.betas):
            raise must_be("optimizer.betas", "two numbers in [0, 1)", list(self.betas))
        self.grad_clip = float(check_value(self.grad_clip, number(0.0), "optimizer.grad_clip"))


@dataclass
class ScheduleConfig:
    """The ``[schedule]`` table: learning-rate schedule over iterations."""

    name: str = "none"
    step_size: int = 1000
    gamma: float = 0.5
    min_lr: float = 0.0

    def __post_init__(self):
        self.name = check_value(self.name, one_of(SCHEDULES), "schedule.name")
        self.step_size = check_value(self.step_size, integer(1), "schedule.step_size")
        self.gamma = float(check_value(self.gamma, POSITIVE, "schedule.gamma"))
        self.min_lr = float(check_value(self.min_lr, number(0.0), "schedule.min_lr"))


_TABLES = {
    "data": DataConfig,
    "mask": MaskConfig,
    "optimizer": OptimizerConfig,
    "schedule": ScheduleConfig,
}


@dataclass
class TrainConfig:
    """A validated training configuration; build it with :func:`config_from_dict` or :func:`load_config`."""

    model: dict
    data: DataConfig
    loss: dict = field(default_factory=lambda: {"mse": 1.0})
    mask: MaskConfig = field(default_factory=MaskConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    iterations: int = 1000
    batch_size: int = 4
    seed: int = 0
    device: str = "auto"
    output: str = "dynmri-run"
    val_every: int = 100
    checkpoint_every: int = 100
    log_every: int = 10
    keep: str = "best"
    num_threads: int = 0
    deterministic: bool = True
    evaluate_test: bool = True
    init_weights: str = ""

    def __post_init__(self):
        if not isinstance(self.model, dict) or not isinstance(self.model.get("name"), str):
            raise ValueError("model.name is required: the architecture to train (a [model] table with name = ...)")
        self.model = dict(self.model)
        _check_model(self.model)
        if not isinstance(self.loss, dict) or not self.loss:
            raise must_be("loss", "a non-empty table of loss terms and weights", self.loss)
        self.loss = dict(self.loss)
        self.iterations = check_value(self.iterations, integer(1), "iterations")
        self.batch_size = check_value(self.batch_size, integer(1), "batch_size")
        self.seed = check_value(self.seed, integer(0), "seed")
        if not isinstance(self.device, str) or not self.device:
            raise must_be("device", "a device name (auto, cpu, cuda, cuda:N, mps)", self.device)
        if not isinstance(self.output, (str, Path)) or not str(self.output):
            raise must_be("output", "a folder path", self.output)
        self.output = str(self.output)
        for key in ("val_every", "checkpoint_every"):
            setattr(self, key, check_value(getattr(self, key), integer(0), key))
        self.log_every = check_value(self.log_every, integer(1), "log_every")
        self.keep = check_value(self.keep, one_of(KEEP), "keep")
        self.num_threads = check_value(self.num_threads, integer(0, MAX_THREADS), "num_threads")
        self.deterministic = check_value(self.deterministic, BOOLEAN, "deterministic")
        self.evaluate_test = check_value(self.evaluate_test, BOOLEAN, "evaluate_test")
        if not isinstance(self.init_weights, (str, Path)):
            raise must_be("init_weights", "a shipped model name or a checkpoint folder", self.init_weights)
        self.init_weights = str(self.init_weights)

    def to_dict(self) -> dict:
        """Plain nested dict (JSON/TOML-ready, tuples as lists) that :func:`config_from_dict` reads back."""
        return _plain(dataclasses.asdict(self))


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def config_from_dict(values: dict) -> TrainConfig:
    """Validate a nested dict (as read from TOML) into a :class:`TrainConfig`.

    Raises ``ValueError`` naming the key for unknown keys, missing required keys and bad values.
    """
    if not isinstance(values, dict):
        raise must_be("the configuration", "a table", values)
    values = dict(values)
    for key, cls in _TABLES.items():
        if key in values:
            values[key] = _from_dict(cls, values[key], key)
    if "data" not in values:
        values["data"] = DataConfig()  # raises: data.train is required
    for key in ("model", "loss"):
        if key in values and not isinstance(values[key], dict):
            raise must_be(key, "a table", values[key])
    if "model" not in values:
        values["model"] = {}
    return _from_dict(TrainConfig, values, "")


def set_dotted(values: dict, key: str, value) -> None:
    """Set ``values["a"]["b"] = value`` for ``key = "a.b"`` (creating tables on the way), in place."""
    *tables, last = key.split(".")
    target = values
    for name in tables:
        target = target.setdefault(name, {})
        if not isinstance(target, dict):
            raise ValueError(f"cannot set {key!r}: {name!r} is not a table")
    target[last] = value


def parse_value(text: str):
    """A command-line value as TOML (``3``, ``1e-4``, ``true``, ``[4, 8]``, ``"x"``) or else a plain string."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def read_toml(path) -> dict:
    """Read a TOML file into a dict; ``OSError`` / ``ValueError`` with the path for unreadable files."""
    path = check_input_file(path, MAX_CONFIG_BYTES)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise ValueError(f"{path}: not a valid TOML file ({err})") from None


def load_config(path=None, overrides: dict | None = None, base: dict | None = None) -> TrainConfig:
    """Configuration from a TOML file (or ``base`` dict) with dotted-key ``overrides`` applied on top.

    Args:
        path: TOML file, or None.
        overrides: ``{"optimizer.lr": 1e-3, "iterations": 50, ...}``; these win over the file.
        base: a nested dict used instead of (or, with ``path``, under) the file's content.
    """
    values = _plain(dict(base or {}))
    if path is not None:
        for key, value in read_toml(path).items():
            if isinstance(value, dict) and isinstance(values.get(key), dict):
                values[key] = {**values[key], **value}
            else:
                values[key] = value
    for key, value in (overrides or {}).items():
        set_dotted(values, key, value)
    return config_from_dict(values)
