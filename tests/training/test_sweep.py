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


def test_a_sweep_with_seeds_trains_each_strength_per_seed_and_keeps_one_seed_points(
    tiny_bert, tiny_data_home, tmp_path, monkeypatch
):
    recipe = apply_overrides(_recipe(tiny_bert, tiny_data_home), {"training.seed": 42})
    runs = []

    def fake_point(point, **kwargs):  # the score says which seed and strength ran
        runs.append((point.training.seed, point.views.a[0]["rate"], point.training.output_dir))
        dev = 80 + point.views.a[0]["rate"] + (point.training.seed - 42) / 10
        return {"stsb_dev": dev, "best_step": 2, "steps": 2, "i_nce": 4.0 - point.views.a[0]["rate"],
                "i_nce_std": 0.01, "i_nce_n": 64, "i_nce_temperature": 0.05, "seconds": 1.0}  # fmt: skip

    monkeypatch.setattr(sweep_module, "run_point", fake_point)
    out = tmp_path / "sweep"
    sweep(recipe, view="word_deletion", values=[0.0, 0.5], output_dir=out)  # one seed: the recipe's
    assert [(s, r) for s, r, _ in runs] == [(42, 0.0), (42, 0.5)]
    runs.clear()
    rows = sweep(recipe, view="word_deletion", values=[0.0, 0.5], output_dir=out, seeds=[43, 42, 44])
    # the recipe's seed is done; the others run every strength before the next seed
    assert [(s, r) for s, r, _ in runs] == [(43, 0.0), (43, 0.5), (44, 0.0), (44, 0.5)]
    assert all(folder.endswith(f"-seed{s}") for s, _, folder in runs)
    assert sorted((r["seed"], r["value"]) for r in rows) == [(s, v) for s in (42, 43, 44) for v in (0.0, 0.5)]
    table = (out / "sweep.md").read_text()
    assert "| 0.5 | 3 | 80.60 ± 0.10 | 3.5000 ± 0.0000 |" in table
    runs.clear()
    sweep(recipe, view="word_deletion", values=[0.0, 0.5], output_dir=out, seeds=[42, 43, 44])
    assert runs == []  # every point of every seed is done


def test_seeds_flag_takes_whole_numbers_only():
    from fmicl_text.cli.views import parse_seeds

    assert parse_seeds("43, 42,43") == [43, 42]
    for bad in ("", "42,x", "-1", "4.2"):
        with pytest.raises(FmiclError, match="--seeds must be whole numbers"):
            parse_seeds(bad)
