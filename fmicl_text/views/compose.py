"""Chain a view's operations in the recipe's order, seeded, on one tokenised column."""

from __future__ import annotations

from collections.abc import Callable

import torch

from fmicl_text.views.cutoff import feature_cutoff, token_cutoff
from fmicl_text.views.deletion import word_deletion
from fmicl_text.views.repetition import word_repetition
from fmicl_text.views.shared_bits import draw_bits, prepend_bits
from fmicl_text.views.shuffle import token_shuffle
from fmicl_text.views.span_mask import span_mask
from fmicl_text.views.spec import FAMILIES, ViewsConfig
from fmicl_text.views.tokens import TokenBatch, Vocab

ViewFn = Callable[..., TokenBatch]
#: name -> function(batch, vocab, generator, **params); the names and parameters are spec.FAMILIES'
OPERATIONS: dict[str, ViewFn] = {
    "word_deletion": word_deletion,
    "word_repetition": word_repetition,
    "span_mask": span_mask,
    "token_shuffle": token_shuffle,
    "token_cutoff": token_cutoff,
    "feature_cutoff": feature_cutoff,
}
assert OPERATIONS.keys() == FAMILIES.keys()


class ViewPipeline:
    """Both views of a :class:`ViewsConfig` over a vocabulary, with one seeded random stream.

    The stream advances with every batch, so a run draws different views at every step and the
    same ones for the same seed.
    """

    def __init__(self, config: ViewsConfig, vocab: Vocab, seed: int = 0) -> None:
        self.config, self.vocab = config, vocab
        self.generator = torch.Generator().manual_seed(seed)

    def apply(self, batch: TokenBatch, side: str, bits: torch.Tensor | None = None) -> TokenBatch:
        """View ``side`` ("a" or "b") of a column; ``bits`` are its shared tokens (added last)."""
        for entry in getattr(self.config, side):
            params = {key: value for key, value in entry.items() if key != "name"}
            batch = OPERATIONS[entry["name"]](batch, self.vocab, self.generator, **params)
        if bits is not None:
            batch = prepend_bits(batch, bits, self.vocab)
        return batch

    def draw_bits(self, rows: int) -> torch.Tensor | None:
        if not self.config.shared_bits:
            return None
        return draw_bits(rows, self.config.shared_bits, self.vocab, self.generator)
