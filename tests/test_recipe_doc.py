"""docs/recipe.md and the README's defaults block and loss table, written from the recipe's field metadata
and the losses' signatures (``python tests/test_recipe_doc.py`` rewrites them; a test checks they are current)."""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from pathlib import Path

import yaml

from fmicl_text.cli.recipe import TRAIN_FLAGS
from fmicl_text.losses.signatures import loss_signatures
from fmicl_text.recipe import SECTIONS, LossConfig, Recipe

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "recipe.md"
README = REPO / "README.md"
BEGIN, END = "<!-- recipe-defaults:begin -->", "<!-- recipe-defaults:end -->"
LOSSES_BEGIN, LOSSES_END = "<!-- loss-table:begin -->", "<!-- loss-table:end -->"
FLAG_OF = {spec.key: flag for flag, spec in TRAIN_FLAGS.items()}


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _value(value) -> str:
    return "`" + yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("\n...").strip() + "`"


def _flag(key: str) -> str:
    return f"`{FLAG_OF[key]}`" if key in FLAG_OF else ""


def render_doc() -> str:
    lines = [
        "# Recipe keys",
        "",
        "Every key of a recipe, its command-line flag (where it has one; `--set SECTION.KEY=VALUE` sets any key),",
        "its default and what it means. Generated from the recipe dataclasses' field metadata and the losses'",
        "signatures (`python tests/test_recipe_doc.py` rewrites this file; a test checks it).",
        "",
    ]
    for section, cls in {**SECTIONS, "loss": LossConfig}.items():
        lines += [f"## `{section}`", "", "| key | flag | default | meaning |", "|---|---|---|---|"]
        for f in dataclasses.fields(cls):
            if section == "loss" and f.name == "params":
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            help_text = f.metadata.get("help", "")
            lines.append(f"| `{f.name}` | {_flag(f'{section}.{f.name}')} | {_value(default)} | {_cell(help_text)} |")
        lines.append("")
    lines += ["## Each loss's parameters (`loss.NAME`)", ""]
    for loss, parameters in loss_signatures().items():
        lines += [f"### `{loss}`", "", "| parameter | flag | default | meaning |", "|---|---|---|---|"]
        for p in parameters:
            meaning = _cell(p.help.replace("``", "`"))
            lines.append(f"| `{p.name}` | {_flag(f'loss.{p.name}')} | {_value(p.default)} | {meaning} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_defaults() -> str:
    """The defaults of every section, one flow-style YAML mapping each (the loss: the default loss's)."""
    raw = Recipe().to_dict()
    defaults = {p.name: p.default for p in loss_signatures()[raw["loss"]["name"]]}
    raw["loss"] = {"name": raw["loss"]["name"], **defaults}
    body = "".join(
        yaml.safe_dump({key: raw[key]}, default_flow_style=None, sort_keys=False, width=100)
        if not isinstance(raw[key], dict)
        else f"{key}: " + yaml.safe_dump(raw[key], default_flow_style=True, sort_keys=False, width=100)
        for key in raw
        if key not in ("name", "description")
    )
    return f"\n```yaml\n{body}```\n"


def render_loss_table() -> str:
    """Each registry loss: its class, its pure function and its parameters with their defaults (those every
    loss takes, such as ``gather_across_devices``, said once below the table)."""
    from fmicl_text.losses import LOSSES

    signatures = loss_signatures()
    common = set.intersection(*({p.name for p in params} for params in signatures.values()))
    lines = ["", "| `--loss` | class | function | parameters (defaults) |", "|---|---|---|---|"]
    for name, cls in LOSSES.items():
        function = re.search(r"defaults_of\((\w+)\)", inspect.getsource(sys.modules[cls.__module__]))[1]
        params = ", ".join(f"{p.name}={p.default}" for p in signatures[name] if p.name not in common)
        lines.append(f"| `{name}` | `{cls.__name__}` | `{function}` | `{params}` |")
    shared = ", ".join(f"`{p.name}={p.default}`" for p in signatures["infonce"] if p.name in common)
    return "\n".join([*lines, "", f"Every loss also takes {shared}.", ""])


def _between(text: str, begin: str, end: str, body: str) -> str:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}{body}{end}{tail}"


def render_readme(readme: str) -> str:
    readme = _between(readme, BEGIN, END, render_defaults())
    return _between(readme, LOSSES_BEGIN, LOSSES_END, render_loss_table())


def test_the_recipe_doc_and_the_readme_defaults_are_current():
    assert DOC.read_text(encoding="utf-8") == render_doc(), "run: python tests/test_recipe_doc.py"
    readme = README.read_text(encoding="utf-8")
    assert readme == render_readme(readme), "run: python tests/test_recipe_doc.py"


def test_every_key_says_what_it_means():
    for section, cls in {**SECTIONS, "loss": LossConfig}.items():
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{section}.{f.name} has no help"


if __name__ == "__main__":
    DOC.write_text(render_doc(), encoding="utf-8")
    README.write_text(render_readme(README.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {DOC} and the defaults block in {README}")
