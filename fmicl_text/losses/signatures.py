"""Each loss's parameters (name, type, default, meaning), read from the source without importing torch.

The CLI makes a flag of every loss parameter, and ``fmicl-text --help`` must not import torch (it
would take seconds). So this module reads with ``ast`` what :func:`~fmicl_text.losses.registry.loss_parameters`
finds by inspection: the registry's names, each class's ``__init__`` (defaults given literally, or read
from its objective's signature through ``DEFAULTS = defaults_of(fn)``) and the ``Args:`` section of its
docstring. A test checks that both agree on every loss.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


@dataclass(frozen=True)
class LossParameter:
    name: str
    annotation: str  # as written: float, bool, str, int
    default: Any
    help: str


def _parse(module: str) -> ast.Module:
    return ast.parse((HERE / f"{module}.py").read_text(encoding="utf-8"))


def _literal(node: ast.expr) -> Any:
    """A default written as a literal; others (``torch.float32``) are no loss parameter's, so None."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


@functools.cache
def _function_defaults() -> dict[str, dict[str, Any]]:
    """functional.py: function name -> its keyword defaults."""
    out = {}
    for node in _parse("functional").body:
        if isinstance(node, ast.FunctionDef):
            args = node.args.args + node.args.kwonlyargs
            defaults = [None] * (len(node.args.args) - len(node.args.defaults)) + node.args.defaults
            defaults += node.args.kw_defaults
            out[node.name] = {a.arg: _literal(d) for a, d in zip(args, defaults, strict=True) if d is not None}
    return out


def _docstring_args(doc: str) -> dict[str, str]:
    """The ``Args:`` section of a Google-style docstring: name -> text (continuation lines joined)."""
    out: dict[str, str] = {}
    section = doc.split("Args:", 1)[1] if "Args:" in doc else ""
    current = None
    for line in section.splitlines():
        if m := re.match(r"^    (\w+): (.*)$", line):
            current = m[1]
            out[current] = m[2].strip()
        elif current and line.startswith("        "):
            out[current] += " " + line.strip()
        elif line.strip() == "" and out:
            break
    return out


def _class_parameters(module: str, class_name: str) -> list[LossParameter]:
    tree = _parse(module)
    defaults_of = {}
    for node in tree.body:  # DEFAULTS = defaults_of(fn)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            call = node.value
            if isinstance(call.func, ast.Name) and call.func.id == "defaults_of":
                defaults_of[node.targets[0].id] = _function_defaults()[call.args[0].id]
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    doc = _docstring_args(ast.get_docstring(cls) or "")
    args = init.args.args[2:]  # self, model
    out = []
    for arg, default in zip(args, init.args.defaults[-len(args) :], strict=True):
        if isinstance(default, ast.Subscript) and isinstance(default.value, ast.Name):
            value = defaults_of[default.value.id][ast.literal_eval(default.slice)]
        else:
            value = ast.literal_eval(default)
        out.append(LossParameter(arg.arg, ast.unparse(arg.annotation), value, doc.get(arg.arg, "")))
    return out


@functools.cache
def init_defaults(module: str, class_name: str) -> dict[str, Any]:
    """A class's ``__init__`` keyword defaults written as literals (for sections of the recipe that a class
    outside the registry serves, e.g. :class:`~fmicl_text.losses.mlm.MLMObjective` for ``mlm``)."""
    cls = next(n for n in _parse(module).body if isinstance(n, ast.ClassDef) and n.name == class_name)
    init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    args = init.args.args[len(init.args.args) - len(init.args.defaults) :]
    return {a.arg: _literal(d) for a, d in zip(args, init.args.defaults, strict=True)}


@functools.cache
def loss_signatures() -> dict[str, tuple[LossParameter, ...]]:
    """Registry name -> the loss's keyword parameters (the model excluded), in signature order."""
    tree = _parse("registry")
    modules = {
        alias.name: node.module.rsplit(".", 1)[1]
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fmicl_text.losses.")
        for alias in node.names
    }
    table = next(
        n.value for n in tree.body if isinstance(n, ast.AnnAssign) and getattr(n.target, "id", None) == "LOSSES"
    )
    return {
        ast.literal_eval(key): tuple(_class_parameters(modules[value.id], value.id))
        for key, value in zip(table.keys, table.values, strict=True)
    }
