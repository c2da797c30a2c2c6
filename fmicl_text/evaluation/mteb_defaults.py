"""Defaults of ``eval mteb`` that the command's parser needs without importing numpy or mteb."""

from __future__ import annotations

DEFAULT_BATCH_SIZE = 128
