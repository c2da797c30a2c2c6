"""SimCSE's auxiliary masked-language-modelling term, wrapped around any contrastive loss once.

``contrastive_weight * loss(columns) + mlm_weight * MLM(anchor column)``: the anchors are masked
with transformers' own ``DataCollatorForLanguageModeling`` rule (``mlm_probability`` of the
non-special tokens; 80 % [MASK], 10 % a random token, 10 % kept), encoded a second time, and only
the masked positions go through the MLM head. That head projects onto the whole vocabulary, so on
a small encoder projecting every position would cost more than the encoder itself (SimCSE's code,
like transformers' ``BertForMaskedLM``, projects every position). ``contrastive_weight = 0`` is MLM
alone: pre-training a raw encoder with the same trainer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IGNORE = -100  # the label of positions that are not predicted (transformers' convention)


class MLMObjective(nn.Module):
    """A contrastive loss (or none) plus the MLM term; parts: the loss's own (scaled) and ``mlm``.

    Args:
        loss: the contrastive loss to wrap; None (or ``contrastive_weight = 0``) for MLM alone.
        model: the SentenceTransformer being trained; its first module holds the encoder.
        head: the encoder's MLM head (``BertOnlyMLMHead``, ``RobertaLMHead``...): hidden -> vocabulary logits.
        mlm_weight: weight of the MLM term (SimCSE's lambda: 0.1).
        mlm_probability: share of the non-special tokens that are predicted (0.15).
        contrastive_weight: weight of the wrapped loss (0: MLM alone, the wrapped loss is not run).
        seed: masks are drawn from (seed, step), so a resumed run masks what an uninterrupted one would.
    """

    def __init__(
        self,
        loss: nn.Module | None,
        model: nn.Module,
        head: nn.Module,
        mlm_weight: float = 0.1,
        mlm_probability: float = 0.15,
        contrastive_weight: float = 1.0,
        seed: int = 0,
    ) -> None:
        from transformers import DataCollatorForLanguageModeling

        super().__init__()
        if not 0 < mlm_probability < 1:
            raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
        if not mlm_weight > 0:
            raise ValueError(f"mlm_weight must be > 0, got {mlm_weight}")
        if not contrastive_weight >= 0:
            raise ValueError(f"contrastive_weight must be >= 0, got {contrastive_weight}")
        if loss is None and contrastive_weight > 0:
            raise ValueError("MLM alone needs contrastive_weight = 0")
        self.loss, self.model, self.head = loss, model, head
        self.mlm_weight, self.mlm_probability = mlm_weight, mlm_probability
        self.contrastive_weight, self.seed = contrastive_weight, seed
        self.masker = DataCollatorForLanguageModeling(model.tokenizer, mlm_probability=mlm_probability)
        self.calls = 0
        self.raise_on_nonfinite = True
        self.nonfinite_parts: dict[str, float] | None = None

    # ----------------------------------------------------------------- what the trainer reads

    @property
    def accepts_negatives(self) -> bool:
        return bool(getattr(self.loss, "accepts_negatives", False))

    @property
    def citation(self) -> str:
        return getattr(self.loss, "citation", "")

    def get_config_dict(self) -> dict[str, Any]:
        inner = self.loss.get_config_dict() if self.loss is not None and self.contrastive_weight > 0 else {}
        return {
            **inner,
            "mlm_weight": self.mlm_weight,
            "mlm_probability": self.mlm_probability,
            "contrastive_weight": self.contrastive_weight,
        }

    def checkpoint_state(self, step: int) -> dict[str, int]:
        return {"calls": step}  # one call a step

    def restore_state(self, state: dict[str, int]) -> None:
        self.calls = int(state.get("calls", 0))

    def checkpoint_tensors(self) -> dict[str, Tensor]:
        """The head's weights (clones: the head shares its decoder with the word embeddings)."""
        return {key: value.detach().clone().contiguous() for key, value in self.head.state_dict().items()}

    def restore_tensors(self, tensors: dict[str, Tensor]) -> None:
        self.head.load_state_dict(tensors)

    # ----------------------------------------------------------------- the objective

    def mask(self, input_ids: Tensor) -> tuple[Tensor, Tensor]:
        """(masked ids, labels with IGNORE where nothing is predicted), drawn from (seed, call)."""
        ids = input_ids.detach().cpu()
        special = torch.isin(ids, torch.tensor(self.masker.tokenizer.all_special_ids))
        self.masker.generator = torch.Generator().manual_seed(hash((self.seed, self.calls)) & 0x7FFF_FFFF_FFFF_FFFF)
        masked, labels = self.masker.torch_mask_tokens(ids.clone(), special_tokens_mask=special)
        return masked.to(input_ids.device), labels.to(input_ids.device)

    def mlm_loss(self, features: dict[str, Tensor]) -> Tensor:
        masked, labels = self.mask(features["input_ids"])
        inputs = {"input_ids": masked, "attention_mask": features["attention_mask"]}
        if "token_type_ids" in features:
            inputs["token_type_ids"] = features["token_type_ids"]
        hidden = self.model[0].auto_model(**inputs).last_hidden_state
        picked = labels != IGNORE
        if not picked.any():  # a batch of one-token sentences: nothing to predict
            return hidden.sum() * 0.0
        logits = self.head(hidden[picked])  # only the masked positions meet the vocabulary
        return F.cross_entropy(logits.float(), labels[picked])

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None) -> dict:
        columns = list(sentence_features)
        parts: dict[str, Tensor] = {}
        if self.loss is not None and self.contrastive_weight > 0:
            inner = self.loss(columns, labels)
            parts = {key: self.contrastive_weight * value for key, value in inner.items()}
            if getattr(self.loss, "nonfinite_parts", None) is not None:  # recorded under on_nonfinite: skip
                self.nonfinite_parts, self.loss.nonfinite_parts = self.loss.nonfinite_parts, None
        parts["mlm"] = self.mlm_weight * self.mlm_loss(columns[0])
        self.calls += 1
        if not torch.isfinite(parts["mlm"]):
            found = {key: value.item() for key, value in parts.items()}
            if self.raise_on_nonfinite:
                from fmicl_text.losses.base import NonFiniteLossError

                raise NonFiniteLossError(found)
            self.nonfinite_parts = found
        return parts

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "raise_on_nonfinite" and getattr(self, "loss", None) is not None:
            self.loss.raise_on_nonfinite = value  # the wrapped loss follows the trainer's on_nonfinite
