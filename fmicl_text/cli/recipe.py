"""The recipe and the flags that override it (``train``, ``sweep``, ``base build``, ``views sweep``)."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from fmicl_text.errors import FmiclError


@dataclass(frozen=True)
class Flag:
    """A command-line flag that sets one recipe key."""

    key: str  # dotted recipe key: training.max_steps, loss.temperature
    kind: Any  # int, float, str, bool (a switch: given means true) or a KEY=VALUE,... parser
    help: str
    metavar: str | None


#: what a flag's value is, by the name of its recipe key or option, where its upper-cased name would not say
METAVARS = {
    "name_or_path": "NAME|DIR",
    "model": "NAME|DIR",
    "train": "FILE|NAME",
    "data": "FILE|NAME",
    "output": "FILE",
    "report_to": "NAME[,NAME]",
    "dev": "SUITE",
    "final_suite": "SUITE",
    "dev_metric": "KEY",
    "study": "NAME",
    "view": "NAME",
    "param": "NAME",
    "rates": "X[,X...]",
}


def metavar(kind: Any, name: str) -> str | None:
    """A flag's metavar: N (whole number), X (number), DIR (a ``*_dir``), FILE / NAME where that is what it
    takes, else its name in capitals."""
    if kind is _mapping:
        return "KEY=VALUE,..."
    if kind in (int, float, bool):
        return {int: "N", float: "X", bool: None}[kind]
    return METAVARS.get(name) or ("DIR" if name == "dir" or name.endswith("_dir") else name.upper())


def _mapping(text: str) -> dict[str, str]:
    """``anchor=premise,positive=hypothesis`` -> a dict (a recipe key that is a mapping)."""
    pairs = [item.partition("=") for item in text.split(",") if item.strip()]
    if not pairs or any(not sep or not key.strip() or not value.strip() for key, sep, value in pairs):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE pairs separated by commas, got {text!r}")
    return {key.strip(): value.strip() for key, _, value in pairs}


def _recipe_flags() -> dict[str, Flag]:
    """The flags declared in the recipe dataclasses' field metadata (``recipe.option``), section by section."""
    from fmicl_text.recipe import SECTIONS, LossConfig

    flags = {}
    for section, cls in {**SECTIONS, "loss": LossConfig}.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.metadata.get("flag"):
                options = [o for o in typing.get_args(hints[f.name]) or (hints[f.name],) if o is not type(None)]
                kind = _mapping if typing.get_origin(options[0]) is dict else options[0]
                default = f.default if f.default is not dataclasses.MISSING else None
                shown = "" if kind is bool or default is None else f"; default {default}"
                help_text = f"{f.metadata['help']} [{section}.{f.name}{shown}]"
                flags[f.metadata["flag"]] = Flag(f"{section}.{f.name}", kind, help_text, metavar(kind, f.name))
    return flags


def _loss_flags(taken: set[str]) -> dict[str, Flag]:
    """A flag for every loss parameter, from the losses' signatures (read without importing torch): its help
    says what it means in each loss that has it, with that loss's default. A name a recipe flag already
    uses (``seed``) gets a ``--loss-`` prefix."""
    from fmicl_text.losses.signatures import loss_signatures

    by_name: dict[str, list[tuple[str, Any]]] = {}
    for loss, parameters in loss_signatures().items():
        for p in parameters:
            by_name.setdefault(p.name, []).append((loss, p))
    flags = {}
    for name, uses in by_name.items():
        kind = {"int": int, "float": float, "bool": bool}.get(uses[0][1].annotation, str)
        if kind is bool:
            assert all(p.default is False for _, p in uses), f"a switch defaults to off: {name}"
        flag = f"--{name.replace('_', '-')}"
        flag = f"--loss-{name.replace('_', '-')}" if flag in taken else flag
        meaning = "; ".join(
            f"{loss}: {p.help.replace('``', '').rstrip('.')}" + ("" if kind is bool else f" (default {p.default})")
            for loss, p in uses
        )
        if len(uses) == len(loss_signatures()):  # a parameter of every loss: one meaning
            meaning = f"every loss: {uses[0][1].help.replace('``', '').rstrip('.')}"
        flags[flag] = Flag(f"loss.{name}", kind, f"{meaning} [loss.{name}]", metavar(kind, name))
    return flags


def _with_loss_names(flags: dict[str, Flag]) -> dict[str, Flag]:
    from fmicl_text.losses.signatures import loss_signatures

    spec = flags["--loss"]
    names = ", ".join(loss_signatures())
    return {**flags, "--loss": dataclasses.replace(spec, help=spec.help.replace(" [", f": {names} [", 1))}


RECIPE_FLAGS = _with_loss_names(_recipe_flags())
LOSS_FLAGS = _loss_flags(set(RECIPE_FLAGS))
# flag -> the recipe key it sets. These names are part of the product's interface.
TRAIN_FLAGS: dict[str, Flag] = {**RECIPE_FLAGS, **LOSS_FLAGS}


VIEWS_HELP = (
    "the two views, replacing the recipe's: LIST (both views) or a=LIST; b=LIST; shared_bits=K, "
    "LIST = none or NAME(KEY=VALUE,...)+..., e.g. 'b=word_repetition(rate=0.32)' [views.*]"
)


def _parse_value(text: str) -> Any:
    """``--set`` values are YAML scalars: 0.1 -> float, true -> bool, null -> None."""
    import yaml

    return yaml.safe_load(text)


def add_recipe_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The recipe and the flags that override it (``train`` and ``views sweep``)."""
    parser.add_argument("recipe", nargs="?", help="YAML recipe (flags override it)")
    sections: dict[str, Any] = {}  # argument groups by title

    def add(group: str, flag: str, spec: Flag) -> None:
        if group not in sections:
            sections[group] = parser.add_argument_group(group)
        if spec.kind is bool:
            sections[group].add_argument(flag, action="store_true", dest=spec.key, default=None, help=spec.help)
        else:
            sections[group].add_argument(
                flag, type=spec.kind, dest=spec.key, default=None, metavar=spec.metavar, help=spec.help
            )

    for flag, spec in RECIPE_FLAGS.items():
        add(f"recipe: {spec.key.partition('.')[0]}", flag, spec)
    for flag, spec in LOSS_FLAGS.items():
        add("loss parameters (each loss's own; see --loss)", flag, spec)
    parser.add_argument("--views", default=None, metavar="SPEC", help=VIEWS_HELP)
    parser.add_argument("--no-dev", action="store_true", help="no dev evaluation or checkpoint selection")
    parser.add_argument("--no-final-eval", action="store_true", help="skip the final test suite")
    parser.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        metavar="latest|PATH",
        help="continue the unfinished run in --output-dir from its last checkpoint (or from PATH)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any recipe key, e.g. --set loss.symmetric=true (repeatable)",
    )
    return parser


def recipe_from_args(args: argparse.Namespace):
    from fmicl_text.recipe import apply_overrides, load_recipe

    recipe = load_recipe(args.recipe)
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise FmiclError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = _parse_value(value)
    for spec in TRAIN_FLAGS.values():
        value = getattr(args, spec.key)
        if value is not None:
            overrides[spec.key] = value
    if args.views is not None:
        from fmicl_text.views.spec import parse_views

        views = parse_views(args.views)
        overrides.update({"views.a": views.a, "views.b": views.b, "views.shared_bits": views.shared_bits})
    if args.no_dev:
        overrides["eval.dev"] = None
    if args.no_final_eval:
        overrides["eval.final_suite"] = None
    # The loss name goes first so that loss parameters given with it apply to the new loss.
    ordered = dict(sorted(overrides.items(), key=lambda kv: kv[0] != "loss.name"))
    return apply_overrides(recipe, ordered)


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """``--data-dir``, for the commands that read data by name (STS sets, training corpora) outside a recipe."""
    from fmicl_text.data.home import ENV_VAR

    parser.add_argument("--data-dir", default=None, metavar="DIR", help=f"data home folder (default: ${ENV_VAR})")


def parse_numbers(text: str, flag: str, example: str) -> list[float]:
    """``0,0.1,0.2`` -> the distinct numbers, sorted (a flag taking a list, e.g. ``--rates``)."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise FmiclError(
            f"{flag} must be numbers separated by commas, got {text!r}", fix=f"e.g. {flag} {example}"
        ) from None
    if not values:
        raise FmiclError(f"{flag} is empty", fix=f"e.g. {flag} {example}")
    return sorted(set(values))
