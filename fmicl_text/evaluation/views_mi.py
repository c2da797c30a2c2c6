"""``fmicl-text views mi``: I_NCE between a model's two views (InfoMin's estimate of what they share).

``I_NCE = log N - InfoNCE`` on held-out batches of N sentences (STS-B dev by default, never
trained on), each sentence viewed twice as training views it; see :func:`diagnostics.i_nce`.
At temperature 0.05 a trained encoder tells its dropout views apart almost perfectly (I_NCE near
log N), so ``--temperature`` is offered: a larger one (0.5) separates view strengths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from fmicl_text.layout import I_NCE_BATCH_SIZE, I_NCE_TEMPERATURE

DEFAULT_DATA = "stsb-dev"


def mi_sentences(data: str, *, data_dir: str | None = None) -> list[str]:
    """The sentences I_NCE is measured on: STS-B dev's distinct sentences, or a training set's anchors."""
    if data == DEFAULT_DATA:
        from fmicl_text.evaluation.diagnostics import load_diagnostics_data

        return load_diagnostics_data(data_dir=data_dir, split="dev").sentences
    from fmicl_text.data import load_training_data

    dataset, _ = load_training_data(data, data_dir=data_dir)
    return list(dict.fromkeys(dataset["anchor"]))


def views_i_nce(
    model: Any,
    sentences: Sequence[str],
    views: Any,
    *,
    batch_size: int = I_NCE_BATCH_SIZE,
    temperature: float = I_NCE_TEMPERATURE,
    batches: int = 16,
    seed: int = 0,
) -> dict[str, Any]:
    """I_NCE between ``views`` (a :class:`~fmicl_text.views.spec.ViewsConfig`) of ``model`` on ``sentences``.

    Returns the mean and std over batches (``i_nce``, ``i_nce_std``), its bound ``i_nce_max = log N``, the
    ``batch_size`` N used (at most the number of sentences) and how many ``batches`` of N were measured.
    """
    from fmicl_text.evaluation.diagnostics import i_nce

    mean, std = i_nce(
        model, sentences, batch_size=batch_size, temperature=temperature, n_batches=batches, seed=seed, views=views
    )
    n = min(batch_size, len(sentences))
    return {
        "i_nce": mean,
        "i_nce_std": std,
        "i_nce_max": math.log(n),
        "batch_size": n,
        "batches": min(batches, len(sentences) // n),
    }
