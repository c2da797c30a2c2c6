"""Experiment recipes: YAML files that say everything a training run needs.

A recipe has the sections ``model``, ``data``, ``views``, ``loss``, ``mlm``, ``training`` and ``eval``. Every key has
a default (SimCSE's unsupervised BERT setting), so a recipe only states what differs. Unknown keys
are errors with a did-you-mean suggestion, so a typo never silently trains the default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fmicl_text.errors import FmiclError, did_you_mean
from fmicl_text.losses.signatures import init_defaults
from fmicl_text.views.spec import ViewsConfig

# SimCSE's poolers (``avg`` is SimCSE's name for mean pooling).
POOLINGS = ("cls", "cls_before_pooler", "mean", "avg", "avg_first_last")
INITS = ("pretrained", "random")


def option(default: Any = dataclasses.MISSING, *, help: str, flag: str | None = None, **kwargs: Any) -> Any:
    """A recipe key: its default, what it means and, for a key a command-line flag sets, the flag.

    Declared once here, as transformers' ``HfArgumentParser`` reads its dataclasses: the CLI builds
    its flags and their help from this metadata, and ``docs/recipe.md`` is written from it.
    """
    return field(default=default, metadata={"help": help, "flag": flag}, **kwargs)


@dataclass
class ModelConfig:
    """The encoder and how a sentence vector is read from it."""

    name_or_path: str = option(
        "bert-base-uncased", flag="--model", help="encoder: a Hub name, a local folder or base:NAME"
    )
    pooling: str = option("cls", flag="--pooling", help=f"sentence vector: {', '.join(POOLINGS)}")
    mlp_only_train: bool = option(
        True, help="SimCSE's mlp_only_train: with cls pooling, the MLP head is used in training only"
    )
    projection_layers: int | None = option(
        None,
        help="a train-only projection head of this many layers over the pooled vector (ReLU between, the last "
        "linear), dropped for evaluation and saving, as SimCLR's; 0: none; null: SimCSE's (with cls pooling, the "
        "MLP of mlp_only_train)",
    )
    dropout: float | None = option(
        None,
        flag="--dropout",
        help="encoder dropout, the source of the dropout views (0: none; null: the checkpoint's own)",
    )
    trust_remote_code: bool = option(False, help="run the model repository's own Python code (only models you trust)")
    allow_pickle: bool = option(
        False,
        flag="--allow-pickle",
        help="also load pickled .bin weights: unpickling can run code, so only files you trust",
    )
    init: str = option(
        "pretrained",
        help="pretrained: the checkpoint's weights; random: its tokenizer and architecture, with fresh seeded weights",
    )
    config: dict[str, Any] = option(
        default_factory=dict, help="config overrides for init: random, e.g. {hidden_size: 256, num_hidden_layers: 4}"
    )

    def validate(self) -> None:
        if self.pooling not in POOLINGS:
            raise FmiclError(f"unknown pooling {self.pooling!r}", fix=did_you_mean(self.pooling, POOLINGS))
        if self.projection_layers is not None and (
            isinstance(self.projection_layers, bool) or not isinstance(self.projection_layers, int)
            or self.projection_layers < 0
        ):  # fmt: skip
            raise FmiclError(
                f"model.projection_layers must be a whole number >= 0 or null, got {self.projection_layers!r}"
            )
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise FmiclError(f"model.dropout must be in [0, 1), got {self.dropout}")
        if self.init not in INITS:
            raise FmiclError(f"unknown model.init {self.init!r}", fix=did_you_mean(self.init, INITS))
        if self.config and self.init != "random":
            raise FmiclError("model.config overrides a configuration only with model.init: random")


@dataclass
class DataConfig:
    """Training data: a file path, a data-home name (``wiki``...) or a Hub dataset id."""

    train: str = option(
        "wiki",
        flag="--train-data",
        help="training data: a file (.txt[.gz], .csv, .tsv, .jsonl), a data-home name (wiki, nli, ...) or a Hub id",
    )
    data_dir: str | None = option(
        None,
        flag="--data-dir",
        help="data home folder (standard names -> local files; null: $FMICL_DATA_DIR, else a cache folder)",
    )
    max_samples: int | None = option(
        None, flag="--max-train-samples", help="use only the first N training rows after cleaning (null: all)"
    )
    columns: dict[str, str] | None = option(
        None,
        flag="--columns",
        help="which input column is anchor, positive (and negative), when the names are not known ones; "
        "anchor alone: unsupervised",
    )
    max_seq_length: int = option(
        32,
        flag="--max-seq-length",
        help="truncate training inputs to this many tokens (SimCSE: 32; evaluation is not truncated)",
    )


@dataclass
class LossConfig:
    """A loss from the registry and its keyword parameters (everything but ``name`` in YAML)."""

    name: str = option("infonce", flag="--loss", help="the loss, by its registry name")
    params: dict[str, Any] = option(
        default_factory=dict, help="parameters not given take the loss's own defaults (the saved recipe lists them all)"
    )


_MLM = init_defaults("mlm", "MLMObjective")  # the objective declares its defaults; the recipe reads them


@dataclass
class MLMConfig:
    """SimCSE's auxiliary masked-language-modelling term (``weight`` 0: off); ``contrastive_weight: 0`` is MLM alone."""

    weight: float = option(0.0, help="SimCSE's lambda (0.1 in its code for RoBERTa); 0 turns the MLM term off")
    probability: float = option(
        _MLM["mlm_probability"], help="share of the non-special tokens predicted (80 % [MASK], 10 % random, 10 % kept)"
    )
    contrastive_weight: float = option(
        _MLM["contrastive_weight"],
        help="weight of the contrastive loss; 0 skips it: MLM alone, to pre-train an encoder",
    )
    save_head: bool = option(
        False, help="save the MLM head with the model (a base to pre-train further, or to train with an MLM term)"
    )


@dataclass
class TrainingConfig:
    output_dir: str = option("runs/simcse", flag="--output-dir", help="where the model folder is written")
    max_steps: int = option(
        -1, flag="--max-steps", help="stop after this many optimizer steps (-1: train --epochs epochs)"
    )
    epochs: float = option(1.0, flag="--epochs", help="epochs when max_steps is -1")
    batch_size: int = option(64, flag="--batch-size", help="pairs per batch (in-batch negatives: batch size - 1)")
    learning_rate: float = option(3e-5, flag="--learning-rate", help="peak learning rate")
    warmup_ratio: float = option(0.0, flag="--warmup-ratio", help="share of the steps for linear warm-up")
    weight_decay: float = option(0.0, help="AdamW weight decay")
    seed: int = option(42, flag="--seed", help="random seed (model init, data order, views, dropout)")
    precision: str = option(
        "auto",
        flag="--precision",
        help="auto (bf16 on GPUs that support it, else fp16 on GPU, fp32 on CPU), fp32, fp16 or bf16",
    )
    logging_steps: int = option(10, help="log the loss and its parts every N steps")
    batch_sampler: str = option(
        "random", help="random (SimCSE) or no_duplicates (no repeated text inside a batch: no false negatives)"
    )
    cache_batch_size: int | None = option(
        None,
        flag="--cache-batch-size",
        help="GradCache: embed the batch this many rows at a time (the memory of a small batch, the negatives "
        "of the whole one); null: one pass",
    )
    dataloader_workers: int = option(0, help="data loader worker processes (0: collate in the main process)")
    report_to: str = option(
        "none",
        flag="--report-to",
        help="experiment trackers, comma-separated, through transformers' integrations (tensorboard, wandb, mlflow, "
        "trackio, ...; each needs its package); none: off",
    )
    keep_freed_memory: bool = option(
        True,
        help="glibc only: reuse freed host memory instead of returning it to the OS each step (faster CPU "
        "steps, the same peak memory; the process keeps its peak)",
    )
    overwrite: bool = option(
        False,
        flag="--overwrite",
        help="start again in a folder that holds a run (files this tool did not write are never touched)",
    )
    keep_checkpoints: int = option(
        1, help="checkpoints kept besides the best one (written every eval.eval_steps, and on SIGINT / SIGTERM)"
    )
    on_nonfinite: str = option(
        "stop", help="a non-finite loss or gradient: stop (before the update) or skip that batch's update"
    )
    max_nonfinite_in_row: int = option(
        5, help="with on_nonfinite: skip, stop after this many non-finite batches in a row"
    )


@dataclass
class EvalConfig:
    """SimCSE's protocol: STS-B dev every ``eval_steps``, keep the best, then the test suite."""

    dev: str | None = option(
        "stsb-dev", flag="--dev", help="dev suite for checkpoint selection (stsb-dev, sickr-dev; null: none)"
    )
    eval_steps: int = option(125, flag="--eval-steps", help="evaluate on the dev suite (and checkpoint) every N steps")
    final_suite: str | None = option(
        "senteval7", flag="--final-suite", help="test suite run on the kept model (null: none)"
    )
    text: str = option(
        "senteval",
        flag="--text",
        help="STS text version: senteval (tokenised, SimCSE's numbers) or original (raw, MTEB-style)",
    )
    score_base: bool = option(
        True,
        help="also score the untrained model on final_suite, shown beside the run's scores (cached per weights digest)",
    )
    batch_size: int = option(128, help="evaluation batch size")
    diagnostics: bool = option(
        True, help="log alignment, uniformity, effective rank and I_NCE (on STS-B dev) at every evaluation"
    )
    i_nce_batches: int = option(
        4, help="held-out batches of 64 for I_NCE at each evaluation (two dropout passes each: the costly part on CPU)"
    )


@dataclass
class Recipe:
    name: str = "unnamed"
    description: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    views: ViewsConfig = field(default_factory=ViewsConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    mlm: MLMConfig = field(default_factory=MLMConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        """The YAML form: loss parameters flattened next to ``name``."""
        out = dataclasses.asdict(self)
        loss = out.pop("loss")
        out["loss"] = {"name": loss["name"], **loss["params"]}
        order = ["name", "description", "model", "data", "views", "loss", "mlm", "training", "eval"]
        return {key: out[key] for key in order}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")


PRECISIONS = ("auto", "fp32", "fp16", "bf16")
BATCH_SAMPLERS = ("random", "no_duplicates")
ON_NONFINITE = ("stop", "skip")
# Keys that say how to run or what to call it, not what is trained: a resumed run may change them.
RUN_ONLY_KEYS = ("name", "description", "training.overwrite")


def _require(ok: bool, key: str, rule: str, value: Any, fix: str | None = None) -> None:
    if not ok:
        raise FmiclError(f"{key} must be {rule}, got {value!r}", fix=fix)


def _one_of(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise FmiclError(f"unknown {key} {value!r}", fix=did_you_mean(value, choices))


def validate(recipe: Recipe) -> Recipe:
    """Every value check that needs no model, data or torch, so bad values fail in well under a second."""
    t, d, e = recipe.training, recipe.data, recipe.eval
    _require(t.batch_size >= 2, "training.batch_size", "at least 2 (in-batch negatives)", t.batch_size)
    _require(t.learning_rate > 0, "training.learning_rate", "> 0", t.learning_rate)
    _require(0 <= t.warmup_ratio < 1, "training.warmup_ratio", "in [0, 1)", t.warmup_ratio)
    _require(
        t.max_steps == -1 or t.max_steps > 0,
        "training.max_steps",
        "a positive number of steps, or -1 for --epochs epochs",
        t.max_steps,
        fix="0 steps would train nothing",
    )
    _require(t.max_steps > 0 or t.epochs > 0, "training.epochs", "> 0", t.epochs)
    _require(t.weight_decay >= 0, "training.weight_decay", ">= 0", t.weight_decay)
    _require(t.logging_steps >= 1, "training.logging_steps", ">= 1", t.logging_steps)
    _require(t.dataloader_workers >= 0, "training.dataloader_workers", ">= 0", t.dataloader_workers)
    _require(t.keep_checkpoints >= 1, "training.keep_checkpoints", ">= 1", t.keep_checkpoints)
    _require(t.max_nonfinite_in_row >= 1, "training.max_nonfinite_in_row", ">= 1", t.max_nonfinite_in_row)
    _one_of("training.precision", t.precision, PRECISIONS)
    _one_of("training.batch_sampler", t.batch_sampler, BATCH_SAMPLERS)
    _one_of("training.on_nonfinite", t.on_nonfinite, ON_NONFINITE)
    _require(d.max_seq_length >= 2, "data.max_seq_length", ">= 2 (room for the special tokens)", d.max_seq_length)
    _require(d.max_samples is None or d.max_samples >= 1, "data.max_samples", ">= 1 (or null: all)", d.max_samples)
    _require(e.eval_steps >= 1, "eval.eval_steps", ">= 1", e.eval_steps)
    _require(e.batch_size >= 1, "eval.batch_size", ">= 1", e.batch_size)
    _require(e.i_nce_batches >= 1, "eval.i_nce_batches", ">= 1", e.i_nce_batches)
    _require(t.cache_batch_size is None or t.cache_batch_size >= 1, "training.cache_batch_size", ">= 1 (or null)",
             t.cache_batch_size)  # fmt: skip
    if d.columns is not None:
        from fmicl_text.data.readers import check_column_mapping

        check_column_mapping(d.columns)
    m = recipe.mlm
    _require(m.weight >= 0, "mlm.weight", ">= 0 (0: no MLM term)", m.weight)
    _require(0 < m.probability < 1, "mlm.probability", "in (0, 1)", m.probability)
    _require(m.contrastive_weight >= 0, "mlm.contrastive_weight", ">= 0", m.contrastive_weight)
    if m.weight > 0 and t.cache_batch_size is not None:
        raise FmiclError("training.cache_batch_size (GradCache) does not take the MLM term", fix="drop one of the two")
    if m.weight == 0 and (m.contrastive_weight == 0 or m.save_head):
        raise FmiclError(
            "mlm.contrastive_weight 0 and mlm.save_head need the MLM term", fix="set mlm.weight > 0 (e.g. 1.0)"
        )
    recipe.model.validate()
    return recipe


def differences(saved: Recipe, given: Recipe, ignore: tuple[str, ...] = RUN_ONLY_KEYS) -> list[str]:
    """``key: saved -> given`` for every recipe key whose value differs (loss parameters included)."""

    def flat(raw: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, dict) and key not in ("params",):
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[prefix + key] = value
        return out

    a, b = flat(saved.to_dict()), flat(given.to_dict())
    unset = object()

    def show(value: Any) -> str:
        return "unset" if value is unset else repr(value)

    keys = sorted(set(a) | set(b))
    return [
        f"{k}: {show(a.get(k, unset))} -> {show(b.get(k, unset))}"
        for k in keys
        if k not in ignore and a.get(k, unset) != b.get(k, unset)
    ]


SECTIONS = {
    "model": ModelConfig,
    "data": DataConfig,
    "views": ViewsConfig,
    "mlm": MLMConfig,
    "training": TrainingConfig,
    "eval": EvalConfig,
}


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check a YAML value against a dataclass field type (ints accepted for floats)."""
    hint = annotation
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None:
        if type(None) in options:
            return None
        raise FmiclError(f"{where} must not be empty")
    for option in options:
        if option is type(None):
            continue
        if option is bool and isinstance(value, bool):
            return value
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if option is str and isinstance(value, str):
            return value
        if typing.get_origin(option) is dict and isinstance(value, dict):
            return value
        if typing.get_origin(option) is list and isinstance(value, list):
            return value
    names = " or ".join(getattr(o, "__name__", str(o)) for o in options)
    raise FmiclError(f"{where} must be {names}, got {value!r}")


def _build_section(cls: type, values: dict[str, Any], section: str) -> Any:
    if not isinstance(values, dict):
        raise FmiclError(f"recipe section {section!r} must be a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in names:
            raise FmiclError(f"unknown recipe key {section}.{key}", fix=did_you_mean(key, names))
    return cls(**{k: _coerce(v, hints[k], f"{section}.{k}") for k, v in values.items()})


def recipe_from_dict(raw: dict[str, Any]) -> Recipe:
    if not isinstance(raw, dict):
        raise FmiclError("a recipe must be a YAML mapping with sections model, data, views, loss, mlm, training, eval")
    top = ["name", "description", "loss", *SECTIONS]
    for key in raw:
        if key not in top:
            raise FmiclError(f"unknown recipe section {key!r}", fix=did_you_mean(key, top))
    sections = {key: _build_section(cls, raw.get(key) or {}, key) for key, cls in SECTIONS.items()}
    loss_raw = raw.get("loss") or {}
    if isinstance(loss_raw, str):  # ``loss: infonce`` is short for ``loss: {name: infonce}``
        loss_raw = {"name": loss_raw}
    if not isinstance(loss_raw, dict):
        raise FmiclError("recipe section 'loss' must be a loss name or a mapping with a 'name'")
    loss_raw = dict(loss_raw)
    loss_name = loss_raw.pop("name", LossConfig.name)
    return Recipe(
        name=str(raw.get("name", "unnamed")),
        description=str(raw.get("description", "")),
        loss=LossConfig(name=str(loss_name), params=loss_raw),
        **sections,
    )


def load_recipe(path: str | Path | None) -> Recipe:
    """Read a recipe with ``yaml.safe_load``; None gives the defaults."""
    if path is None:
        return Recipe()
    path = Path(path)
    if not path.is_file():
        raise FmiclError("recipe file not found", where=str(path))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise FmiclError("the recipe is not UTF-8 text", where=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FmiclError(
            f"the recipe is not valid YAML: {problem}", where=where, fix="see recipes/ for examples"
        ) from None
    try:
        return recipe_from_dict(raw or {})
    except FmiclError as exc:
        raise FmiclError(exc.what, where=str(path), fix=exc.fix) from None


def apply_overrides(recipe: Recipe, overrides: dict[str, Any]) -> Recipe:
    """Set dotted keys (``training.max_steps``, ``loss.temperature``) on a copy of the recipe."""
    raw = recipe.to_dict()
    for dotted, value in overrides.items():
        section, _, key = dotted.partition(".")
        if not key:
            if section not in ("name", "description"):
                raise FmiclError(f"override {dotted!r} must be SECTION.KEY")
            raw[section] = value
            continue
        if section == "loss" and key == "name" and value != raw["loss"].get("name"):
            raw["loss"] = {"name": value}  # another loss: its own defaults, not the old one's params
            continue
        if section not in raw or not isinstance(raw[section], dict):
            raise FmiclError(f"unknown recipe section {section!r}", fix=did_you_mean(section, raw))
        raw[section][key] = value
    return recipe_from_dict(raw)
