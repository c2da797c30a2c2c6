"""``views show`` prints each view of a sentence; I_NCE between views falls as the views share less."""

from __future__ import annotations

import pytest

from fmicl_text.cli import main
from fmicl_text.evaluation.diagnostics import i_nce
from fmicl_text.modeling import load_model
from fmicl_text.views.spec import parse_views


def test_views_show_prints_text_and_ids(tiny_bert, capsys):
    rc = main(
        [
            "views", "show", "A man is playing a guitar.", "--model", tiny_bert, "--seed", "0",
            "--views", "a=word_deletion(rate=0.5); b=token_cutoff(rate=0.5)+feature_cutoff",
        ]
    )  # fmt: skip
    assert rc == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("views: a=word_deletion(rate=0.5); b=token_cutoff(rate=0.5)+feature_cutoff(rate=0.2)")
    assert lines[2:] == [
        "sentence 1: A man is playing a guitar.",
        "  input   [CLS] a man is playing a guitar. [SEP]",
        "          ids [101, 1037, 2158, 2003, 2652, 1037, 2858, 1012, 102]",
        "  view a  [CLS] man guitar [SEP]",
        "          ids [101, 2158, 2858, 102]",
        "  view b  [CLS] <cut:a> <cut:man> <cut:is> <cut:playing> a guitar . [SEP]",
        "          ids [101, 1037, 2158, 2003, 2652, 1037, 2858, 1012, 102]",
        "          feature cutoff: 6 of 32 columns zeroed",
    ]


def test_views_show_bad_spec_is_one_message(tiny_bert, capsys):
    assert main(["views", "show", "x", "--model", tiny_bert, "--views", "word_delet"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'word_deletion'" in err and "Traceback" not in err


@pytest.mark.slow
def test_i_nce_is_lower_between_views_that_share_less(minilm_path, data_dir, capsys):
    model = load_model(minilm_path)
    from fmicl_text.evaluation.views_mi import mi_sentences

    sentences = mi_sentences("stsb-dev", data_dir=str(data_dir))[:64]
    kwargs = dict(batch_size=32, temperature=0.5, n_batches=2, seed=0)
    dropout, _ = i_nce(model, sentences, **kwargs)
    again, _ = i_nce(model, sentences, views=parse_views("none"), **kwargs)
    deleted, _ = i_nce(model, sentences, views=parse_views("word_deletion(rate=0.5)"), **kwargs)
    assert again == dropout  # no views: exactly the dropout-only estimate
    assert deleted < dropout - 0.05
    rc = main(["views", "mi", minilm_path, "--views", "word_deletion(rate=0.5)", "--temperature", "0.5",
               "--batch-size", "32", "--batches", "2", "--data-dir", str(data_dir)])  # fmt: skip
    assert rc == 0
    assert "I_NCE = " in capsys.readouterr().out
