"""The local data home: standard dataset names resolved to local files.

The Hugging Face Hub is the default source of training data when it can be reached; a data home lets
everything run offline. Its layout is the one of the project's shared data folder::

    sts/{senteval,original}/{sts12..sts16}.test.tsv, stsb.{train,dev,test}.tsv,
                             sickr.{train,trial,test}.tsv
    train/unsup/*.txt.gz     one sentence per line
    train/nli/*.tsv          sent0, sent1, hard_neg triplets

Lookup order for the folder: an explicit ``data_dir`` (``--data-dir``), then the environment
variable ``FMICL_DATA_DIR``, then ``$XDG_CACHE_HOME/fmicl-text/data`` (``~/.cache/...``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fmicl_text.errors import FmiclError, did_you_mean

ENV_VAR = "FMICL_DATA_DIR"


@dataclass(frozen=True)
class HubSource:
    """Where a standard name lives on the Hub (used when it is not in the data home)."""

    path: str
    split: str = "train"
    data_files: str | None = None


@dataclass(frozen=True)
class TrainCorpus:
    local: str
    hub: HubSource | None
    about: str


# Training corpora by name. ``wiki`` is the default for unsupervised SimCSE runs.
TRAIN_CORPORA: dict[str, TrainCorpus] = {
    # No Hub fallback: the 200k sample exists only in the data home, and silently training on
    # wiki1m instead would make the same recipe mean different data on different machines.
    "wiki": TrainCorpus(
        "train/unsup/wiki200k.txt.gz", None, "200k English Wikipedia sentences (offline stand-in for wiki1m)"
    ),
    "wiki1m": TrainCorpus(
        "train/unsup/wiki1m_for_simcse.txt",
        HubSource("princeton-nlp/datasets-for-simcse", data_files="wiki1m_for_simcse.txt"),
        "SimCSE's 1M Wikipedia sentences",
    ),
    "wiki1m-head": TrainCorpus(
        "train/unsup/wiki1m_for_simcse.head11914.txt.gz", None, "first 11,914 lines of wiki1m (smoke tests)"
    ),
    "enwiki": TrainCorpus(
        "train/unsup/enwiki_pageids_56564557-57025637.sentences.txt.gz", None, "431k Wikipedia sentences"
    ),
    "nli": TrainCorpus(
        "train/nli/nli_for_simcse.csv",
        HubSource("princeton-nlp/datasets-for-simcse", data_files="nli_for_simcse.csv"),
        "SimCSE's 275k NLI triplets (sent0, sent1, hard_neg)",
    ),
    "snli-dev-triplets": TrainCorpus(
        "train/nli/snli_dev.simcse_triplets.senteval_tok.tsv", None, "2,954 SNLI dev triplets (smoke tests)"
    ),
    "snli-test-triplets": TrainCorpus(
        "train/nli/snli_test.simcse_triplets.senteval_tok.tsv", None, "2,929 SNLI test triplets"
    ),
}

# STS sets by name and their splits. They are read from the data home only (SentEval's tokenised text or the
# original); on the Hub, MTEB's copies (``mteb/stsbenchmark-sts``...) are what ``fmicl-text eval mteb`` scores.
STS_SETS: dict[str, tuple[str, ...]] = {
    "sts12": ("test",),
    "sts13": ("test",),
    "sts14": ("test",),
    "sts15": ("test",),
    "sts16": ("test",),
    "stsb": ("train", "dev", "test"),
    "sickr": ("train", "trial", "test"),
}
TEXT_VERSIONS = ("senteval", "original")
# The gold scale of each STS set (its release's own; not rescaled). A score outside it means a wrong
# column or a rescaled copy: Spearman would not notice, the diagnostics' "score > 4" threshold would.
STS_SCORE_RANGES: dict[str, tuple[float, float]] = {name: (0.0, 5.0) for name in STS_SETS} | {"sickr": (1.0, 5.0)}


def data_home(data_dir: str | os.PathLike | None = None) -> Path:
    """The data home folder (it need not exist: training corpora then fall back to the Hub, STS sets fail)."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "fmicl-text" / "data"


BASES_ENV_VAR = "FMICL_BASES_DIR"
BASE_PREFIX = "base:"  # ``model.name_or_path: base:mlm-small`` names a base built by ``fmicl-text base build``


def bases_home() -> Path:
    """Where built bases live: ``$FMICL_BASES_DIR``, else ``$XDG_CACHE_HOME/fmicl-text/bases``.

    Not the data home itself: that folder may be shared and read-only, while bases are written (and
    rebuilt when missing).
    """
    if os.environ.get(BASES_ENV_VAR):
        return Path(os.environ[BASES_ENV_VAR]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "fmicl-text" / "bases"


def sts_path(name: str, split: str = "test", text: str = "senteval", data_dir=None) -> Path:
    """The local TSV of an STS set; raises a clear error when the data home lacks it."""
    if name not in STS_SETS:
        raise FmiclError(f"unknown STS set {name!r}", fix=did_you_mean(name, STS_SETS))
    splits = STS_SETS[name]
    if split not in splits:
        raise FmiclError(f"{name} has no split {split!r}", fix=did_you_mean(split, splits))
    if text not in TEXT_VERSIONS:
        raise FmiclError(f"unknown text version {text!r}", fix=did_you_mean(text, TEXT_VERSIONS))
    path = data_home(data_dir) / "sts" / text / f"{name}.{split}.tsv"
    if not path.is_file():
        raise FmiclError(
            f"{name} {split} ({text} text) is not in the data home",
            where=str(path),
            fix=f"pass --data-dir DIR or set {ENV_VAR} to a folder with the layout sts/{text}/{name}.{split}.tsv",
        )
    return path
