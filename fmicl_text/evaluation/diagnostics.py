"""Representation diagnostics: alignment, uniformity, effective rank and I_NCE on STS-B.

The four numbers of the objectives document (sections 3, 5 and 6), on held-out STS-B sentences:

* **alignment** ``mean ||f(x) - f(y)||^2`` over the STS-B pairs whose gold score is above 4
  (near-paraphrases), on L2-normalised embeddings (Wang & Isola 2020; SimCSE, section 5);
* **uniformity** ``log mean_{i != j} exp(-2 ||f(x_i) - f(x_j)||^2)`` over all distinct sentences of
  the split, on L2-normalised embeddings;
* **effective rank** (Roy & Vetterli 2007) of the matrix of those sentences' L2-normalised
  embeddings, *not* centred (the spec's definition; see :func:`effective_rank`);
* **I_NCE** ``log N - InfoNCE`` between two views of held-out batches of N sentences (dropout
  views, or a run's own views; InfoMin's estimate of the information the views share; at most ``log N``).

Alignment, uniformity and effective rank use one ``encode`` call (eval mode, each distinct sentence
once); I_NCE runs the model twice per batch in train mode, so that dropout acts on both views.
:class:`DiagnosticsEvaluator` logs the same numbers at every evaluation step of training.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fmicl_text.data.home import TEXT_VERSIONS, sts_path
from fmicl_text.errors import FmiclError, did_you_mean
from fmicl_text.evaluation.sts import StsPairs, check_gold_scale, read_sts_tsv
from fmicl_text.layout import DIAGNOSTIC_METRICS, I_NCE_BATCH_SIZE, I_NCE_TEMPERATURE
from fmicl_text.losses.functional import alignment, info_nce, uniformity
from fmicl_text.views.spec import ViewsConfig

#: STS-B pairs with a gold score above this are the positive pairs of the alignment diagnostic.
POSITIVE_THRESHOLD = 4.0
METRIC_KEYS = DIAGNOSTIC_METRICS
NEGATIVES_FIX = "I_NCE needs negatives: each sentence of a batch of N is told apart from the other N - 1"


# --------------------------------------------------------------------------- settings


def at_least(value: float, minimum: float, name: str, fix: str | None = None) -> None:
    """A setting's lower bound, named as the user gave it (a flag or a keyword), checked before any loading."""
    if value < minimum:
        raise FmiclError(f"{name} must be at least {minimum:g}, got {value}", fix=fix)


def positive(value: float, name: str, fix: str | None = None) -> None:
    """A setting that must be a finite number > 0 (a temperature: 0 divides by zero, NaN poisons everything)."""
    if not (math.isfinite(value) and value > 0):
        raise FmiclError(f"{name} must be > 0, got {value}", fix=fix)


# --------------------------------------------------------------------------- the measures


def effective_rank(z: torch.Tensor | np.ndarray, *, center: bool = False) -> float:
    """Effective rank of a matrix (Roy & Vetterli 2007): ``exp(H(p))`` with ``p = sigma / sum(sigma)``.

    ``sigma`` are the singular values of ``z`` as given: by default the matrix is **not** centred
    (the spec's definition), so a common mean direction counts as one dimension and anisotropic
    embeddings (everything in a narrow cone) get a low effective rank. ``center=True`` subtracts the
    column means first (the rank of the spread around the mean). The value lies in [1, min(n, d)]
    for a non-zero matrix and is invariant to scaling ``z``; an all-zero matrix gives 0.
    Computed in float64.
    """
    z = torch.as_tensor(z).detach().to(device="cpu", dtype=torch.float64)
    if z.ndim != 2:
        raise ValueError(f"effective rank needs a 2-D matrix, got shape {tuple(z.shape)}")
    if not torch.isfinite(z).all():
        raise ValueError("effective rank: the matrix contains NaN or inf")
    if center:
        z = z - z.mean(dim=0, keepdim=True)
    sigma = torch.linalg.svdvals(z)
    total = sigma.sum()
    if total <= 0:
        return 0.0
    p = sigma / total
    entropy = -torch.special.xlogy(p, p).sum()  # 0 log 0 = 0
    return float(torch.exp(entropy))


def _to_device(features: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {key: value.to(device) if isinstance(value, torch.Tensor) else value for key, value in features.items()}


def i_nce(
    model: Any,
    sentences: Sequence[str],
    *,
    batch_size: int = I_NCE_BATCH_SIZE,
    temperature: float = I_NCE_TEMPERATURE,
    n_batches: int | None = None,
    seed: int = 0,
    views: ViewsConfig | None = None,
) -> tuple[float, float]:
    """``I_NCE = log N - InfoNCE`` between two views of held-out batches; returns (mean, std).

    The views are ``views`` (a training run's own; None or empty: dropout only), made by the same
    collator as in training, from the sentence twice, with the model's dropout on top.

    The sentences are shuffled (seeded) and cut into batches of N = ``batch_size`` (all of them when
    there are fewer; an incomplete last batch is dropped, so that every batch has the same ``log N``);
    ``n_batches`` keeps only the first batches. Each batch is embedded twice with the model in train
    mode (dropout on; train-only heads such as SimCSE's MLP apply, so the views are the ones the
    training loss sees) and without gradients, and scored with :func:`functional.info_nce` at
    ``temperature``. The std is over batches (population std; 0 for one batch). The torch RNG is
    forked, so the dropout masks depend on ``seed`` only and the caller's random state is untouched;
    the model's train/eval mode is restored afterwards. I_NCE <= log N always; it is >= 0 unless the
    positive views are less similar than the negatives. It saturates: for a trained encoder at
    temperature 0.05 it sits just under log N, so compare view strengths at a larger temperature
    (``eval/views.md`` measures both).
    """
    sentences = list(sentences)
    if batch_size < 2:
        raise FmiclError(f"I_NCE needs batches of at least 2 sentences, got batch size {batch_size}")
    if len(sentences) < 2:
        raise FmiclError(f"I_NCE needs at least 2 sentences, got {len(sentences)}")
    if n_batches is not None and n_batches < 1:
        raise FmiclError(f"n_batches must be at least 1, got {n_batches}")
    positive(temperature, "the I_NCE temperature")
    at_least(seed, 0, "the I_NCE seed")
    n = min(batch_size, len(sentences))
    order = np.random.default_rng(seed).permutation(len(sentences))
    batches = [order[start : start + n] for start in range(0, len(order) - n + 1, n)]
    if n_batches is not None:
        batches = batches[:n_batches]

    from fmicl_text.views.collator import ViewsDataCollator  # sentence-transformers: imported on use

    collator = ViewsDataCollator(model, views, seed=seed)
    device = torch.device(model.device)
    was_training = model.training
    values: list[float] = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        model.train()
        try:
            with torch.no_grad():
                for batch in batches:
                    features = model.preprocess([sentences[i] for i in batch])  # tokenised once, viewed twice
                    view_a, view_b = collator.view_columns([features, features])
                    u = model(_to_device(view_a, device))["sentence_embedding"]  # modules add keys: one dict a pass
                    v = model(_to_device(view_b, device))["sentence_embedding"]
                    parts = info_nce(u, v, temperature=temperature)
                    values.append(math.log(n) - float(parts["positive"] + parts["negative"]))
        finally:
            model.train(was_training)
    return float(np.mean(values)), float(np.std(values))


# --------------------------------------------------------------------------- data


@dataclass
class DiagnosticsData:
    """The STS-B sentences of one split, read once: distinct sentences and the positive pairs."""

    sentences: list[str]  # distinct, in order of first appearance
    positive_pairs: list[tuple[int, int]]  # indices into ``sentences`` of the pairs with gold > threshold
    split: str
    text: str
    path: Path


def load_diagnostics_data(
    *,
    data_dir: str | os.PathLike | None = None,
    text: str = "senteval",
    split: str = "dev",
    max_sentences: int | None = None,
    positive_threshold: float = POSITIVE_THRESHOLD,
    path: str | os.PathLike | None = None,
) -> DiagnosticsData:
    """Read STS-B ``split`` from the data home (or the TSV at ``path``).

    ``max_sentences`` keeps the file's rows from the top while they add up to at most that many
    distinct sentences, so that all four numbers are measured on one subset (quick checks).
    """
    if text not in TEXT_VERSIONS:
        raise FmiclError(f"unknown text version {text!r}", fix=did_you_mean(text, TEXT_VERSIONS))
    if max_sentences is not None:
        at_least(max_sentences, 2, "max_sentences")
    if path is None:
        pairs: StsPairs = read_sts_tsv(sts_path("stsb", split, text=text, data_dir=data_dir))
        check_gold_scale(pairs, "stsb")  # the positive threshold is on STS-B's 0-5 scale
    else:
        pairs = read_sts_tsv(path)
    index: dict[str, int] = {}
    positives: list[tuple[int, int]] = []
    for s1, s2, score in zip(pairs.sentence1, pairs.sentence2, pairs.scores, strict=True):
        new = {s1, s2} - index.keys()
        if max_sentences is not None and len(index) + len(new) > max_sentences:
            break
        i, j = index.setdefault(s1, len(index)), index.setdefault(s2, len(index))
        if score > positive_threshold:
            positives.append((i, j))
    if len(index) < 2:
        raise FmiclError(f"STS-B {split} gives fewer than 2 distinct sentences", where=str(pairs.path))
    if not positives:
        raise FmiclError(
            f"no STS-B {split} pair has a gold score above {positive_threshold} (needed for alignment)",
            where=str(pairs.path),
            fix="use a split with high-scoring pairs" + (" or raise max_sentences" if max_sentences else ""),
        )
    return DiagnosticsData(list(index), positives, split, text, Path(pairs.path))


# --------------------------------------------------------------------------- results


@dataclass
class Diagnostics:
    """The four diagnostics of one model (unrounded) and what they were measured on."""

    alignment: float  # mean squared distance of positive pairs, unit vectors (lower: closer)
    uniformity: float  # log mean exp(-2 d^2) of all pairs (lower: more uniform)
    erank: float  # effective rank of the unit-normalised embedding matrix, not centred
    i_nce: float  # mean over batches of log N - InfoNCE between the two views
    i_nce_std: float
    i_nce_batch_size: int  # N (so I_NCE <= log N)
    i_nce_temperature: float
    i_nce_batches: int
    n_pairs: int  # positive pairs behind alignment
    n_sentences: int  # distinct sentences behind uniformity, erank and I_NCE
    dim: int
    split: str
    text: str
    seconds: float

    def metrics(self) -> dict[str, float]:
        """The four numbers under their short keys (``alignment``, ``uniformity``, ``erank``, ``i_nce``)."""
        return {key: getattr(self, key) for key in METRIC_KEYS}

    def to_json(self, model_name: str) -> dict[str, Any]:
        record = asdict(self)
        return {
            "model": model_name,
            "diagnostics": self.metrics(),
            "i_nce_max": math.log(self.i_nce_batch_size),
            **{key: value for key, value in record.items() if key not in METRIC_KEYS},
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }


def _encode(model: Any, sentences: list[str], batch_size: int) -> torch.Tensor:
    embeddings = model.encode(sentences, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)
    if hasattr(embeddings, "detach"):
        embeddings = embeddings.detach().cpu().float().numpy()
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or embeddings.shape[0] != len(sentences):
        raise FmiclError(f"model.encode returned shape {embeddings.shape} for {len(sentences)} sentences")
    return torch.from_numpy(embeddings)


def diagnose(
    model: Any,
    data: DiagnosticsData,
    *,
    batch_size: int = 128,
    i_nce_batch_size: int = I_NCE_BATCH_SIZE,
    i_nce_batches: int | None = None,
    temperature: float = I_NCE_TEMPERATURE,
    seed: int = 0,
    views: ViewsConfig | None = None,
    embeddings: torch.Tensor | None = None,
) -> Diagnostics:
    """The four diagnostics of ``model`` on already loaded data (the model's mode is restored).

    ``embeddings``: the eval-mode embeddings of ``data.sentences`` (row for row) when the caller already has
    them (the STS-B dev evaluation of the same step); then only I_NCE runs the model.
    """
    start = time.perf_counter()
    was_training = model.training
    try:
        # encode() puts the model in eval mode
        z = _encode(model, data.sentences, batch_size) if embeddings is None else embeddings.float()
        if not torch.isfinite(z).all():
            raise FmiclError("the model's embeddings contain NaN or inf", fix="check the model (diverged training?)")
        left = z[[i for i, _ in data.positive_pairs]]
        right = z[[j for _, j in data.positive_pairs]]
        align = float(alignment(left, right))
        uniform = float(uniformity(z))
        erank = effective_rank(torch.nn.functional.normalize(z, dim=-1))
        n = min(i_nce_batch_size, len(data.sentences))
        shared, shared_std = i_nce(
            model,
            data.sentences,
            batch_size=n,
            temperature=temperature,
            n_batches=i_nce_batches,
            seed=seed,
            views=views,
        )
    finally:
        model.train(was_training)
    full = len(data.sentences) // n
    return Diagnostics(
        alignment=align,
        uniformity=uniform,
        erank=erank,
        i_nce=shared,
        i_nce_std=shared_std,
        i_nce_batch_size=n,
        i_nce_temperature=temperature,
        i_nce_batches=full if i_nce_batches is None else min(full, i_nce_batches),
        n_pairs=len(data.positive_pairs),
        n_sentences=len(data.sentences),
        dim=int(z.shape[1]),
        split=data.split,
        text=data.text,
        seconds=time.perf_counter() - start,
    )


def compute_diagnostics(
    model: Any,
    *,
    data_dir: str | os.PathLike | None = None,
    text: str = "senteval",
    split: str = "dev",
    max_sentences: int | None = None,
    batch_size: int = 128,
    i_nce_batch_size: int = I_NCE_BATCH_SIZE,
    i_nce_batches: int | None = None,
    temperature: float = I_NCE_TEMPERATURE,
    seed: int = 0,
) -> Diagnostics:
    """Alignment, uniformity, effective rank and I_NCE of ``model`` on STS-B ``split``.

    ``batch_size`` is the encoding batch size; I_NCE uses batches of ``i_nce_batch_size`` sentences
    (SimCSE's 64 by default) and InfoNCE at ``temperature``.
    """
    data = load_diagnostics_data(data_dir=data_dir, text=text, split=split, max_sentences=max_sentences)
    return diagnose(
        model,
        data,
        batch_size=batch_size,
        i_nce_batch_size=i_nce_batch_size,
        i_nce_batches=i_nce_batches,
        temperature=temperature,
        seed=seed,
    )
