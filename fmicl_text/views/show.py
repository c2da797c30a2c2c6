"""``fmicl-text views show``: what each view makes of a sentence, so a strength has a meaning.

Only the tokenizer and the encoder's width are needed (not its weights): the views act on ids.
"""

from __future__ import annotations

from fmicl_text.errors import FmiclError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"  # BERT's uncased vocabulary; ships offline


def show_lines(
    tokenizer,
    config,
    sentences: list[str],
    *,
    seed: int = 0,
    hidden_size: int | None = None,
    max_length: int | None = None,
) -> list[str]:
    """The report, as lines: per sentence its tokens, then each view's text, ids and cutoff masks."""
    from fmicl_text.views.compose import ViewPipeline
    from fmicl_text.views.tokens import TokenBatch, Vocab

    if max_length is not None:  # the tokenizer would silently ignore a length that holds no word
        special = tokenizer.num_special_tokens_to_add(pair=False)
        if max_length <= special:
            raise FmiclError(
                f"--max-seq-length must be at least {special + 1} (the tokenizer adds {special} special tokens), "
                f"got {max_length}",
                fix="leave it out to see whole sentences, or give training's (data.max_seq_length, 32 by default)",
            )
    vocab = Vocab.from_tokenizer(tokenizer, hidden_size=hidden_size)
    pipeline = ViewPipeline(config, vocab, seed)
    encoded = tokenizer(
        sentences, padding=True, truncation=max_length is not None, max_length=max_length, return_tensors="pt"
    )
    extra = {key: value for key, value in encoded.items() if key not in ("input_ids", "attention_mask")}
    source = TokenBatch(encoded["input_ids"], encoded["attention_mask"], extra=extra)
    bits = pipeline.draw_bits(len(sentences))
    views = {side: pipeline.apply(source, side, bits) for side in ("a", "b")}
    lines = [f"views: {config.describe()}   (seed {seed}; the encoder's dropout acts on both)"]
    for row, sentence in enumerate(sentences):
        lines += ["", f"sentence {row + 1}: {sentence}"]
        for label, batch in (("input", source), ("view a", views["a"]), ("view b", views["b"])):
            ids = batch.input_ids[row][batch.attention_mask[row].bool()].tolist()
            tokens = tokenizer.convert_ids_to_tokens(ids)
            if batch.keep_token is None:
                text = tokenizer.convert_tokens_to_string(tokens)
            else:  # token cutoff: show the tokens themselves, the zeroed ones marked
                keep = batch.keep_token[row][: len(ids)].tolist()
                text = " ".join(t if k else f"<cut:{t}>" for t, k in zip(tokens, keep, strict=True))
            lines += [f"  {label:<7} {text}", f"  {'':<7} ids {ids}"]
            if batch.keep_feature is not None:
                zeroed = int((batch.keep_feature[row] == 0).sum())
                lines.append(f"  {'':<7} feature cutoff: {zeroed} of {batch.keep_feature.shape[1]} columns zeroed")
    return lines
