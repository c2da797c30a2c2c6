"""sentence-transformers evaluators for the trainer: STS scores and representation diagnostics.

Kept apart from :mod:`~fmicl_text.evaluation.sts` and :mod:`~fmicl_text.evaluation.diagnostics`
(the measures themselves), which do not import sentence-transformers, so that the CLI starts fast.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import torch
from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

from fmicl_text.evaluation.diagnostics import diagnose, load_diagnostics_data
from fmicl_text.evaluation.sts import CUSTOM_SUITE, append_csv_row, load_suite, score_tasks
from fmicl_text.layout import (
    AVG,
    DIAGNOSTIC_METRICS,
    DIAGNOSTICS_EVALUATOR,
    I_NCE_BATCH_SIZE,
    I_NCE_TEMPERATURE,
    STS_EVALUATOR,
    metric_name,
)
from fmicl_text.views.spec import ViewsConfig


class StsEvaluator(BaseEvaluator):
    """STS as a sentence-transformers evaluator, e.g. STS-B dev every N steps for checkpoint selection.

    Files are read and validated once, at construction, so a bad path fails before training starts.
    """

    def __init__(
        self,
        suite: str | None = "stsb-dev",
        text: str = "senteval",
        data_dir: str | os.PathLike | None = None,
        batch_size: int = 128,
        name: str | None = None,
        files: Mapping[str, str | os.PathLike] | None = None,
        show_progress_bar: bool = False,
        write_csv: bool = True,
    ) -> None:
        super().__init__()
        self.suite = suite
        self.text = text
        self.batch_size = batch_size
        self.name = STS_EVALUATOR if name is None else name
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.tasks = load_suite(suite, text=text, data_dir=data_dir, files=files)
        keys = list(self.tasks)
        primary = keys[0] if len(keys) == 1 else AVG
        self.primary_metric = metric_name(self.name, primary)
        self.csv_file = f"sts_evaluation{'_' + self.name if self.name else ''}_results.csv"
        self.csv_headers = ["epoch", "steps", *keys, AVG]
        # Set by a DiagnosticsEvaluator that reuses this evaluation's embeddings: (epoch, steps) -> embeddings.
        self.keep_embeddings = False
        self.embeddings: tuple[tuple[int, int], dict[str, int], Any] | None = None

    def __call__(
        self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        result = score_tasks(
            model,
            self.tasks,
            suite=self.suite,
            text=self.text,
            batch_size=self.batch_size,
            show_progress=self.show_progress_bar,
            keep_embeddings=self.keep_embeddings,
        )
        if self.keep_embeddings:
            self.embeddings = ((epoch, steps), result.embedding_index, result.embedding_matrix)
        if output_path is not None and self.write_csv:
            row = [epoch, steps, *(result.scores[key] for key in self.csv_headers[2:])]
            append_csv_row(output_path, self.csv_file, self.csv_headers, row)
        # An undefined score (collapsed embeddings) counts as -100, the floor of Spearman x100, so that
        # checkpoint selection still works: a NaN (or -inf) would never compare as a new best.
        scores = {key: -100.0 if math.isnan(value) else value for key, value in result.scores.items()}
        metrics = self.prefix_name_to_metrics(scores, self.name)
        if getattr(model, "model_card_data", None) is not None:
            self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    @property
    def description(self) -> str:
        return "Semantic Similarity"

    def get_config_dict(self) -> dict[str, Any]:
        return {"suite": self.suite or CUSTOM_SUITE, "text": self.text}


class DiagnosticsEvaluator(BaseEvaluator):
    """The diagnostics as a sentence-transformers evaluator: logged at every evaluation step.

    Returns ``{name}_alignment``, ``{name}_uniformity``, ``{name}_erank`` and ``{name}_i_nce``
    (``diag_*`` by default; the trainer logs them as ``eval_diag_*``). The data is read once, at
    construction. Not meant for checkpoint selection: its primary metric is uniformity with
    ``greater_is_better = False``; combine it with the STS evaluator and keep selecting on STS.
    """

    def __init__(
        self,
        split: str = "dev",
        text: str = "senteval",
        data_dir: str | os.PathLike | None = None,
        batch_size: int = 128,
        max_sentences: int | None = None,
        i_nce_batch_size: int = I_NCE_BATCH_SIZE,
        i_nce_batches: int | None = None,
        temperature: float = I_NCE_TEMPERATURE,
        seed: int = 0,
        name: str = DIAGNOSTICS_EVALUATOR,
        write_csv: bool = True,
        views: ViewsConfig | None = None,
        embeddings_from: StsEvaluator | None = None,
    ) -> None:
        super().__init__()
        self.embeddings_from = embeddings_from
        if embeddings_from is not None:
            embeddings_from.keep_embeddings = True
        self.data = load_diagnostics_data(data_dir=data_dir, text=text, split=split, max_sentences=max_sentences)
        self.split, self.text, self.name = split, text, name
        self.batch_size = batch_size
        self.i_nce_batch_size, self.i_nce_batches = i_nce_batch_size, i_nce_batches
        self.temperature, self.seed = temperature, seed
        self.views = views  # I_NCE between the run's own views
        self.write_csv = write_csv
        self.greater_is_better = False
        self.primary_metric = metric_name(name, "uniformity")
        self.csv_file = f"diagnostics_evaluation{'_' + name if name else ''}_results.csv"
        self.csv_headers = ["epoch", "steps", *DIAGNOSTIC_METRICS, "i_nce_std"]

    def _shared_embeddings(self, epoch: int, steps: int) -> torch.Tensor | None:
        """``embeddings_from``'s embeddings of this same evaluation (same epoch and step), when they cover
        every sentence of the diagnostics (STS-B dev in the same text version); else None (encode again)."""
        shared = self.embeddings_from.embeddings if self.embeddings_from is not None else None
        if shared is None or shared[0] != (epoch, steps) or steps < 0:
            return None
        _, index, matrix = shared
        if not all(sentence in index for sentence in self.data.sentences):
            return None
        return torch.from_numpy(matrix[[index[sentence] for sentence in self.data.sentences]])

    def __call__(
        self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        result = diagnose(
            model,
            self.data,
            embeddings=self._shared_embeddings(epoch, steps),
            batch_size=self.batch_size,
            i_nce_batch_size=self.i_nce_batch_size,
            i_nce_batches=self.i_nce_batches,
            temperature=self.temperature,
            seed=self.seed,
            views=self.views,
        )
        if output_path is not None and self.write_csv:
            row = [epoch, steps, *(getattr(result, key) for key in self.csv_headers[2:])]
            append_csv_row(output_path, self.csv_file, self.csv_headers, row)
        metrics = self.prefix_name_to_metrics(result.metrics(), self.name)
        if getattr(model, "model_card_data", None) is not None:
            self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    @property
    def description(self) -> str:
        return "Representation Diagnostics"

    def get_config_dict(self) -> dict[str, Any]:
        return {"split": f"stsb-{self.split}", "text": self.text, "i_nce_batch_size": self.i_nce_batch_size}
