"""Views: how the two inputs of a contrastive pair are made from one text.

Dropout alone (the default: the same text twice, the encoder's dropout differs) or token-level
operations on each view, composed in order: word deletion, word repetition, span masking, token
shuffle (token ids), token and feature cutoff (the embedding layer's output), and the shared-bits
feature-suppression experiment. :class:`ViewsConfig` / :func:`parse_views` say what the views are
(torch-free); :class:`~fmicl_text.views.collator.ViewsDataCollator` makes them in training.
"""

from fmicl_text.views.spec import EMBEDDING_FAMILIES, FAMILIES, ViewsConfig, parse_views, views_from_dict

__all__ = ["EMBEDDING_FAMILIES", "FAMILIES", "ViewsConfig", "parse_views", "views_from_dict"]
