"""The search space of a sweep: what may be searched, how it is checked, and the trials it gives.

A space maps Ultralytics train arguments (the keys of ``ultralytics/cfg/default.yaml``) to the
values to try:

- a **list** is a choice among its values: ``"batch": [8, 16]`` (grid and random search);
- a **range** is a continuous interval, for random search only: :class:`Range` ``(low, high)``
  draws uniformly, ``Range(low, high, log=True)`` log-uniformly (for learning rates); a plain
  tuple ``(low, high)`` is the same as ``Range(low, high)``, as in Ultralytics' own tuner. On an
  integer argument (``epochs``, ``batch``, ``imgsz``, ...) a range draws integers.

Example::

    from mltrack_sdk.sweep_space import Range, plan_trials

    space = {"lr0": Range(1e-4, 1e-1, log=True), "momentum": (0.8, 0.95), "batch": [8, 16]}
    plan_trials(space, method="random", n_trials=3, seed=0)   # the same three trials every time

Everything is checked before a sweep starts: a mistake raises
:class:`~mltrack_sdk.errors.InvalidValueError` naming the field (``space.lr0``) and the rule.
Ultralytics is imported inside the functions here: its argument names and rules are its own.
"""

from __future__ import annotations

import difflib
import itertools
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltrack_sdk import checks

#: Search methods: every combination of the lists, or ``n_trials`` random draws.
METHODS = ("grid", "random")
#: What a sweep can optimise: a final metric of each trial (the hyperparameter_runs objectives).
OBJECTIVES = ("map50_95", "map50", "precision", "recall", "loss")
DIRECTIONS = ("maximize", "minimize")
#: Arguments a sweep sets itself (data, model) or that make no sense per trial.
RESERVED = frozenset({"data", "model", "mode", "task", "resume"})
#: Tuner options that track_tune does not follow, and why.
_UNSUPPORTED = {
    "use_ray": "Ray Tune runs trials elsewhere",
    "mongodb_uri": "distributed tuning writes its results to MongoDB",
}
#: Integer arguments Ultralytics types as floats or not at all; a range on them draws integers.
_ALSO_INTEGER = frozenset({"batch", "imgsz"})


@dataclass(frozen=True)
class Range:
    """A continuous interval ``[low, high]`` for random search: uniform, or log-uniform when
    ``log`` is true (``low`` must then be > 0). Integer arguments draw integers.

    Example::

        Range(1e-4, 1e-1, log=True)    # learning rates spread evenly over the decades
    """

    low: float
    high: float
    log: bool = False

    def to_json(self) -> dict[str, Any]:
        """How the range is stored in ``hyperparameter_runs.search_space``."""
        return {"low": self.low, "high": self.high, "log": self.log}


#: A space entry after checking: a list of choices or a range.
Values = list[Any] | Range


def _cfg() -> tuple[dict[str, Any], frozenset[str], frozenset[str]]:
    """Ultralytics' default train arguments, and its integer and numeric argument names."""
    from ultralytics.cfg import CFG_FLOAT_KEYS, CFG_FRACTION_KEYS, CFG_INT_KEYS
    from ultralytics.utils import DEFAULT_CFG_DICT

    integer = frozenset(CFG_INT_KEYS) | _ALSO_INTEGER
    return dict(DEFAULT_CFG_DICT), integer, integer | CFG_FLOAT_KEYS | CFG_FRACTION_KEYS


def check_argument(field: str, key: Any, defaults: Mapping[str, Any]) -> str:
    """``key`` as an Ultralytics train argument a sweep may set; ``field`` names it in errors."""
    if not isinstance(key, str) or key not in defaults:
        close = difflib.get_close_matches(str(key), list(defaults), n=3)
        hint = f"Did you mean {', '.join(close)}?" if close else None
        raise checks.invalid(
            field,
            "is not an Ultralytics train argument (see ultralytics/cfg/default.yaml)",
            hint=hint,
        )
    if key in RESERVED:
        raise checks.invalid(field, "cannot be set per trial: the sweep sets data and model")
    return key


def check_value(field: str, key: str, value: Any) -> Any:
    """A value Ultralytics accepts for ``key`` (its own type and range rules) that JSON can
    hold: a number, text, boolean, None or a list of those (a path becomes text). Ultralytics'
    message is kept."""
    from ultralytics.cfg import check_cfg

    if isinstance(value, Path):
        value = str(value)
    items = value if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not (item is None or isinstance(item, (bool, int, float, str))):
            raise checks.invalid(field, "must be a number, text, a boolean, None or a list", item)
        if isinstance(item, float) and not math.isfinite(item):
            raise checks.invalid(field, "must be a finite number", item)
        if key == "imgsz" and (isinstance(item, bool) or not isinstance(item, int) or item < 1):
            # Ultralytics does not check it before a training starts.
            raise checks.invalid(field, "must be a positive integer (or a list of two)", item)
    try:
        check_cfg({key: value}, hard=True)
    except (TypeError, ValueError) as exc:
        raise checks.invalid(field, f"is not accepted by Ultralytics: {exc}", value) from None
    return list(value) if isinstance(value, tuple) else value


def check_space(space: Any, method: str) -> dict[str, Values]:
    """The space as lists and :class:`Range` objects, every entry checked (see the module
    docstring); raises InvalidValueError naming ``space.<argument>``."""
    method = checks.check_choice("method", method, METHODS)
    if not isinstance(space, Mapping) or not space:
        raise checks.invalid(
            "space", "must be a non-empty mapping of Ultralytics train arguments to values"
        )
    defaults, integer, numeric = _cfg()
    checked: dict[str, Values] = {}
    for key, values in space.items():
        field = f"space.{key}"
        name = check_argument(field, key, defaults)
        if isinstance(values, tuple) and len(values) == 2 and not isinstance(values[0], str):
            values = Range(*values)
        if isinstance(values, Range):
            checked[name] = _check_range(field, name, values, method, integer, numeric)
        elif isinstance(values, Sequence) and not isinstance(values, (str, bytes, tuple)):
            checked[name] = _check_choices(field, name, list(values))
        else:
            raise checks.invalid(
                field,
                "must be a list of values to choose from or a range (low, high)",
                values,
                hint="A value that stays the same in every trial goes in train_args.",
            )
    return checked


def _check_choices(field: str, key: str, values: list[Any]) -> list[Any]:
    if not values:
        raise checks.invalid(field, "must hold at least one value (got an empty list)")
    for value in values:
        check_value(field, key, value)
    if len({repr(v) for v in values}) != len(values):
        raise checks.invalid(field, "must not repeat a value", values)
    return values


def _check_range(
    field: str,
    key: str,
    values: Range,
    method: str,
    integer: frozenset[str],
    numeric: frozenset[str],
) -> Range:
    if method == "grid":
        raise checks.invalid(
            field,
            "is a range: grid search needs a list of values (or use method='random')",
        )
    if key not in numeric:
        raise checks.invalid(field, "is not a numeric argument: give a list of values instead")
    low = checks.to_float(f"{field}.low", values.low)
    high = checks.to_float(f"{field}.high", values.high)
    for bound, number in (("low", low), ("high", high)):
        if not math.isfinite(number):
            raise checks.invalid(f"{field}.{bound}", "must be a finite number", number)
        check_value(f"{field}.{bound}", key, int(number) if key in integer else number)
    if not low < high:
        raise checks.invalid(field, f"must have low < high (got low={low:g}, high={high:g})")
    if values.log and low <= 0:
        raise checks.invalid(f"{field}.low", "must be > 0 for a log-uniform range", low)
    if key in integer and math.ceil(low) > math.floor(high):
        raise checks.invalid(field, f"holds no integer (got {low:g} to {high:g})")
    return Range(low, high, bool(values.log))


def check_train_args(train_args: Any, space: Mapping[str, Any]) -> dict[str, Any]:
    """The fixed Ultralytics arguments of every trial, checked like the space's values (and
    with it: a searched learning rate or momentum needs an optimizer that uses them)."""
    if train_args is None:
        train_args = {}
    if not isinstance(train_args, Mapping):
        raise checks.invalid("train_args", "must be a mapping of Ultralytics train arguments")
    defaults = _cfg()[0]
    fixed: dict[str, Any] = {}
    for key, value in train_args.items():
        field = f"train_args.{key}"
        name = check_argument(field, key, defaults)
        if name in space:
            raise checks.invalid(field, "is also in space: an argument is searched or fixed")
        fixed[name] = check_value(field, name, value)
    optimizers = space.get("optimizer") or [fixed.get("optimizer", defaults["optimizer"])]
    for key in ("lr0", "momentum"):
        if key in space and "auto" in optimizers:
            raise checks.invalid(
                f"space.{key}",
                "has no effect with optimizer='auto' (Ultralytics then picks its own)",
                hint="Fix the optimizer in train_args, e.g. optimizer='SGD' or 'AdamW'.",
            )
    return fixed


def check_tune_space(space: Any) -> dict[str, tuple[float, ...]] | None:
    """Ultralytics' tuner space (for :func:`mltrack_sdk.sweep_tune.track_tune`): argument ->
    ``(low, high)`` or ``(low, high, gain)``; None keeps Ultralytics' default space."""
    if space is None:
        return None
    if not isinstance(space, Mapping) or not space:
        raise checks.invalid("space", "must be a non-empty mapping, or None for Ultralytics' own")
    checked: dict[str, tuple[float, ...]] = {}
    for key, bounds in space.items():
        field = f"space.{key}"
        name = check_argument(field, key, _cfg()[0])
        if not isinstance(bounds, (tuple, list)) or len(bounds) not in (2, 3):
            raise checks.invalid(field, "must be (low, high) or (low, high, gain)", bounds)
        numbers = tuple(checks.to_float(field, b) for b in bounds)
        if not numbers[0] <= numbers[1]:
            raise checks.invalid(field, "must have low <= high", bounds)
        for bound in numbers[:2]:
            check_value(field, name, bound)
        checked[name] = numbers
    return checked


def check_tune_args(train_args: Any) -> dict[str, Any]:
    """The train arguments every tuning iteration shares, checked like a sweep's."""
    if not isinstance(train_args, Mapping):
        raise checks.invalid("train_args", "must be a mapping of Ultralytics train arguments")
    fixed: dict[str, Any] = {}
    for key, value in train_args.items():
        field = f"train_args.{key}"
        if key in _UNSUPPORTED:
            raise checks.invalid(field, f"is not supported by track_tune: {_UNSUPPORTED[key]}")
        name = check_argument(field, key, _cfg()[0])
        fixed[name] = check_value(field, name, value)
    return fixed


def count_trials(space: Mapping[str, Values], method: str, n_trials: int | None) -> int:
    """How many trials a checked space gives: every grid combination, or ``n_trials`` draws."""
    if method == "grid":
        if n_trials is not None:
            raise checks.invalid(
                "n_trials", "applies to method='random' only: a grid runs every combination"
            )
        return math.prod(len(v) for v in space.values() if isinstance(v, list))
    return checks.check_positive_int("n_trials", n_trials, required=True) or 0


def iter_trials(
    space: Mapping[str, Values], method: str, n_trials: int | None, seed: int
) -> Iterator[dict[str, Any]]:
    """The parameters of each trial of a checked space, in order (lazily: a big grid costs
    nothing until its trials run)."""
    keys = list(space)
    if method == "grid":
        lists = [space[k] for k in keys]
        for combo in itertools.product(*lists):  # type: ignore[arg-type]
            yield dict(zip(keys, combo, strict=True))
        return
    integer = _cfg()[1]
    rng = random.Random(seed)
    for _ in range(n_trials or 0):
        # Drawn in sorted order, so the trials of a seed do not depend on the dict's order.
        drawn = {k: _draw(rng, space[k], k in integer) for k in sorted(keys)}
        yield {k: drawn[k] for k in keys}


def _draw(rng: random.Random, values: Values, integer: bool) -> Any:
    if isinstance(values, list):
        return values[rng.randrange(len(values))]
    low, high = values.low, values.high
    if integer:
        low_int, high_int = math.ceil(low), math.floor(high)
        if not values.log:
            return rng.randint(low_int, high_int)
        number = math.exp(rng.uniform(math.log(max(low_int, 1)), math.log(high_int)))
        return min(max(round(number), low_int), high_int)
    number = (
        math.exp(rng.uniform(math.log(low), math.log(high)))
        if values.log
        else (rng.uniform(low, high))
    )
    # Six significant digits read well in a table; rounding must not leave the range.
    return min(max(float(f"{number:.6g}"), low), high)


def plan_trials(
    space: Mapping[str, Any],
    *,
    method: str = "grid",
    n_trials: int | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """The parameters of every trial a sweep of ``space`` runs, in order, without running
    anything (checks the space as :func:`mltrack_sdk.sweep.sweep` does).

    Example::

        plan_trials({"lr0": [0.01, 0.001], "batch": [8, 16]})
        # [{'lr0': 0.01, 'batch': 8}, {'lr0': 0.01, 'batch': 16}, {'lr0': 0.001, 'batch': 8}, ...]
    """
    checked = check_space(space, method)
    count_trials(checked, method, n_trials)
    return list(iter_trials(checked, method, n_trials, checks.to_int("seed", seed)))


def space_json(space: Mapping[str, Values]) -> dict[str, Any]:
    """A checked space as JSON: lists as they are, ranges as ``{"low", "high", "log"}``."""
    return {k: v.to_json() if isinstance(v, Range) else list(v) for k, v in space.items()}
