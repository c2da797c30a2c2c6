"""``views sweep`` on a tiny model: a point per strength, a table and the InfoMin plot; a rerun resumes."""

from __future__ import annotations

import json

import pytest
from conftest import tiny_recipe

from fmicl_text.errors import FmiclError
from fmicl_text.recipe import apply_overrides
from fmicl_text.training import sweep as sweep_module
from fmicl_text.training.sweep import POINTS_FILE, sweep


def _recipe(model, home):
    return tiny_recipe(
        "sweep-test",
        model,
        home,
        **{
            "training.max_steps": 2,
            "training.batch_size": 4,
            "training.learning_rate": 1e-3,
            "eval.eval_steps": 2,
            "eval.batch_size": 8,
            "eval.i_nce_batches": 1,
        },
    )


@pytest.mark.slow
def test_sweep_writes_points_table_plot_and_resumes(tiny_bert, tiny_data_home, tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    rows = sweep(
        _recipe(tiny_bert, tiny_data_home), view="word_deletion", values=[0.0, 0.5], output_dir=out, mi_batches=1
    )
    assert [r["value"] for r in rows] == [0.0, 0.5]
    for row in rows:
        assert -100 <= row["stsb_dev"] <= 100 and row["steps"] == 2 and row["i_nce"] <= row["i_nce_n"]
    assert rows[0]["i_nce"] != rows[1]["i_nce"]
    lines = (out / POINTS_FILE).read_text().splitlines()
    assert [json.loads(line)["value"] for line in lines] == [0.0, 0.5]
    table = (out / "sweep.md").read_text()
    assert "| 0.5 |" in table and "I_NCE" in table
    assert (out / "infomin.png").read_bytes()[:4] == b"\x89PNG"

    def no_training(*args, **kwargs):
        raise AssertionError("a finished point was run again")

    monkeypatch.setattr(sweep_module, "run_point", no_training)
    again = sweep(
        _recipe(tiny_bert, tiny_data_home), view="word_deletion", values=[0.0, 0.5], output_dir=out, mi_batches=1
    )
    assert [r["stsb_dev"] for r in again] == [r["stsb_dev"] for r in rows]


def test_sweep_checks_the_view_before_training(tiny_bert, tiny_data_home, tmp_path):
    with pytest.raises(FmiclError, match="did you mean 'word_deletion'"):
        sweep(_recipe(tiny_bert, tiny_data_home), view="word_delet", values=[0.1], output_dir=tmp_path)
    with pytest.raises(FmiclError, match="has no parameter"):
        sweep(_recipe(tiny_bert, tiny_data_home), view="span_mask", param="span", values=[1], output_dir=tmp_path)


def test_shared_bits_sweeps_like_a_view(tiny_bert, tiny_data_home, tmp_path):
    from fmicl_text.training.sweep import point_recipe

    recipe = point_recipe(_recipe(tiny_bert, tiny_data_home), "shared_bits", "rate", 2.0, "both", tmp_path)
    assert recipe.views.shared_bits == 2 and recipe.views.a == recipe.views.b == []
    assert recipe.eval.final_suite is None and str(tmp_path / "points") in recipe.training.output_dir


@pytest.mark.slow
def test_a_point_stopped_mid_training_continues_from_its_checkpoint(tiny_bert, tiny_data_home, tmp_path, monkeypatch):
    import os
    import signal
    from pathlib import Path

    from transformers import TrainerCallback

    from fmicl_text.errors import RunInterrupted
    from fmicl_text.training import trainer as trainer_module

    out = tmp_path / "sweep"
    recipe = apply_overrides(_recipe(tiny_bert, tiny_data_home), {"training.max_steps": 4, "eval.eval_steps": 2})
    point = sweep_module.point_recipe(recipe, "word_deletion", "rate", 0.1, "both", out)

    class SigintInStep3(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 2:  # during step 3
                os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(RunInterrupted):
        trainer_module.train(point, callbacks=[SigintInStep3()])
    assert (Path(point.training.output_dir) / "checkpoints" / "checkpoint-3").is_dir()

    calls = []
    real = trainer_module.train

    def recording(recipe, *args, **kwargs):
        calls.append(kwargs.get("resume"))
        return real(recipe, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "train", recording)
    rows = sweep(recipe, view="word_deletion", values=[0.1], output_dir=out, mi_batches=1)
    assert calls == ["latest"] and rows[0]["steps"] == 4
