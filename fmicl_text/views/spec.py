"""What a view is, as configuration: the view families, their parameters, and the ``--views`` syntax.

Torch-free on purpose: recipes and the CLI validate views before any heavy import.

A recipe's ``views`` section gives each of the two views its own list of operations, applied in
order, plus the feature-suppression option::

    views:
      a: []                                     # view a: dropout only
      b: [{name: word_repetition, rate: 0.32}]  # view b: ESimCSE's repetition, then dropout
      shared_bits: 0                            # k shared random tokens prepended to both views

The encoder's dropout acts on every view in every case (it is the encoder's, set by
``model.dropout``); with ``a = b = []`` the views are SimCSE's: the same text twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import yaml

from fmicl_text.errors import FmiclError, did_you_mean


@dataclass(frozen=True)
class Param:
    default: float
    low: float
    high: float
    high_open: bool = False  # the upper bound itself is not allowed
    integer: bool = False

    def check(self, value: Any, where: str) -> float | int:
        bracket = ")" if self.high_open else "]"
        fix = f"give a value in [{self.low:g}, {self.high:g}{bracket}; the default is {self.default:g}"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise FmiclError(f"{where} must be a number, got {value!r}", fix=fix)
        if self.integer and value != int(value):
            raise FmiclError(f"{where} must be a whole number, got {value!r}", fix=fix)
        above = value >= self.high if self.high_open else value > self.high
        if value < self.low or above:
            raise FmiclError(f"{where} must be in [{self.low:g}, {self.high:g}{bracket}, got {value!r}", fix=fix)
        return int(value) if self.integer else float(value)


# name -> {parameter: Param}; the defaults are the papers' (see each family's module).
FAMILIES: dict[str, dict[str, Param]] = {
    "word_deletion": {"rate": Param(0.1, 0.0, 1.0)},
    "word_repetition": {"rate": Param(0.32, 0.0, 1.0)},
    "span_mask": {"rate": Param(0.15, 0.0, 1.0), "mean_span": Param(3.0, 1.0, 32.0)},
    "token_shuffle": {"rate": Param(1.0, 0.0, 1.0)},
    "token_cutoff": {"rate": Param(0.1, 0.0, 1.0, high_open=True)},
    "feature_cutoff": {"rate": Param(0.2, 0.0, 1.0, high_open=True)},
}
#: families that act on the encoder's embedding-layer output rather than on token ids
EMBEDDING_FAMILIES = ("token_cutoff", "feature_cutoff")
SIDES = ("a", "b")
SHARED_BITS = Param(0, 0, 64, integer=True)
DROPOUT_HINT = (
    "dropout is the encoder's and acts on both views in the same forward pass: set its rate with "
    "--dropout RATE (model.dropout; 0 turns it off, SimCSE's collapse ablation)"
)


@dataclass
class ViewsConfig:
    """The two views: a list of operations each (applied in order) and the shared-bits option."""

    # The help is read by the recipe reference (docs/recipe.md), as for the other sections' keys.
    a: list[dict[str, Any]] = field(
        default_factory=list,
        metadata={"help": "view a: operations applied in order, e.g. [{word_deletion: {rate: 0.1}}]"},
    )
    b: list[dict[str, Any]] = field(default_factory=list, metadata={"help": "view b: the same form as a"})
    shared_bits: int = field(
        default=0,
        metadata={"help": "feature suppression: k random tokens, the same in both views of a sentence (0: off)"},
    )

    def __post_init__(self) -> None:
        self.a = normalize_list(self.a, "views.a")
        self.b = normalize_list(self.b, "views.b")
        self.shared_bits = SHARED_BITS.check(self.shared_bits, "views.shared_bits")

    @property
    def is_identity(self) -> bool:
        """True when the views are the same text twice (dropout only)."""
        return not self.a and not self.b and not self.shared_bits

    @property
    def uses_embedding_masks(self) -> bool:
        return any(entry["name"] in EMBEDDING_FAMILIES for entry in self.a + self.b)

    def describe(self) -> str:
        """One line, in ``--views`` syntax."""
        parts = [f"{side}={format_list(getattr(self, side))}" for side in SIDES]
        if self.shared_bits:
            parts.append(f"shared_bits={self.shared_bits}")
        return "; ".join(parts)


def normalize_entry(entry: Any, where: str) -> dict[str, Any]:
    """``{name: ..., param: value}`` with every parameter spelled out and checked."""
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or "name" not in entry:
        raise FmiclError(f"{where} must be a mapping with a 'name', e.g. {{name: word_deletion, rate: 0.1}}")
    entry = dict(entry)
    name = entry.pop("name")
    if name == "dropout":
        raise FmiclError(f"{where}: 'dropout' is not a per-view operation", fix=DROPOUT_HINT)
    if name not in FAMILIES:
        raise FmiclError(f"{where}: unknown view {name!r}", fix=did_you_mean(str(name), FAMILIES))
    params = FAMILIES[name]
    for key in entry:
        if key not in params:
            raise FmiclError(f"{where}: view {name!r} has no parameter {key!r}", fix=did_you_mean(str(key), params))
    out: dict[str, Any] = {"name": name}
    for key, spec in params.items():
        out[key] = spec.check(entry.get(key, spec.default), f"{where}.{name}.{key}")
    return out


def normalize_list(entries: Any, where: str) -> list[dict[str, Any]]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise FmiclError(f"{where} must be a list of view entries, got {entries!r}")
    return [normalize_entry(entry, f"{where}[{i}]") for i, entry in enumerate(entries)]


def format_entry(entry: dict[str, Any]) -> str:
    params = ",".join(f"{key}={value:g}" for key, value in entry.items() if key != "name")
    return f"{entry['name']}({params})" if params else entry["name"]


def format_list(entries: list[dict[str, Any]]) -> str:
    return "+".join(format_entry(entry) for entry in entries) or "none"


def _parse_entry(text: str) -> dict[str, Any]:
    name, paren, rest = text.partition("(")
    entry: dict[str, Any] = {"name": name.strip()}
    if paren:
        if not rest.endswith(")"):
            raise FmiclError(f"missing ')' in {text!r}", fix="write NAME(KEY=VALUE,...)")
        for item in filter(None, (part.strip() for part in rest[:-1].split(","))):
            key, eq, value = item.partition("=")
            if not eq:
                raise FmiclError(f"expected KEY=VALUE in {text!r}, got {item!r}")
            entry[key.strip()] = yaml.safe_load(value)
    return entry


def parse_views(text: str) -> ViewsConfig:
    """Parse ``--views``: ``LIST`` (both views), or ``a=LIST; b=LIST; shared_bits=K`` in any subset.

    ``LIST`` is ``none`` or entries joined by ``+`` and applied in order, each ``NAME`` or
    ``NAME(KEY=VALUE,...)``; e.g. ``word_deletion(rate=0.1)``, ``b=word_repetition(rate=0.32)``,
    ``a=token_shuffle; b=feature_cutoff(rate=0.2)``. A YAML mapping (``{a: [...], b: [...]}``) works too.
    Sides not given are dropout only.
    """
    where = f"--views {text!r}"  # every error below names the spec here
    try:
        return _parse_views(text.strip())
    except FmiclError as exc:
        raise FmiclError(exc.what, where=exc.where or where, fix=exc.fix) from None


def _parse_views(text: str) -> ViewsConfig:
    if text.startswith("{"):
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise FmiclError(f"not valid YAML: {exc}".splitlines()[0]) from None
        return views_from_dict(raw, "--views")
    raw: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        side, eq, body = part.partition("=")
        side = side.strip()
        if eq and "(" not in side and side in (*SIDES, "shared_bits"):
            targets = [side]
        elif eq and "(" not in side:
            raise FmiclError(f"unknown part {side!r} of --views", fix=did_you_mean(side, [*SIDES, "shared_bits"]))
        else:
            targets, body = list(SIDES), part
        if "shared_bits" in targets:
            raw["shared_bits"] = yaml.safe_load(body)
            continue
        body = body.strip()
        entries = [] if body in ("", "none") else [_parse_entry(e.strip()) for e in body.split("+")]
        for target in targets:
            raw[target] = entries
    return views_from_dict(raw, "--views")


def views_from_dict(raw: Any, where: str = "views") -> ViewsConfig:
    if raw is None:
        return ViewsConfig()
    if not isinstance(raw, dict):
        raise FmiclError(f"{where} must be a mapping with keys a, b, shared_bits")
    keys = [*SIDES, "shared_bits"]
    for key in raw:
        if key not in keys:
            raise FmiclError(f"unknown key {where}.{key}", fix=did_you_mean(str(key), keys))
    return ViewsConfig(a=raw.get("a") or [], b=raw.get("b") or [], shared_bits=raw.get("shared_bits") or 0)
