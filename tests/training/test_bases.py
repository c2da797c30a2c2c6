"""``base build`` on a tiny config: MLM from random weights in stages, a probe per stage, the gate,
resumable, and the base then usable as ``base:NAME``."""

from __future__ import annotations

import json

import pytest
from conftest import tiny_recipe

from fmicl_text.errors import FmiclError
from fmicl_text.reporting.bases import plot_curve, report_lines
from fmicl_text.training import bases
from fmicl_text.training.bases import GATE_FILE, ProbeBudget, build_base
from fmicl_text.training.records import read_records

TINY = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}


def _recipe(model, home, out, **extra):
    return tiny_recipe(
        "tiny-base",
        model,
        home,
        **{
            "model.init": "random",
            "model.config": TINY,
            "mlm.weight": 1.0,
            "mlm.contrastive_weight": 0.0,
            "mlm.save_head": True,
            "training.output_dir": str(out),
            "training.max_steps": 4,
            "training.batch_size": 8,
            "training.learning_rate": 1e-3,
            "eval.dev": None,
            "eval.final_suite": None,
            "eval.eval_steps": 2,
            **extra,
        },
    )


@pytest.mark.slow
def test_base_build_probes_each_stage_runs_the_gate_and_resumes(tiny_bert, tiny_data_home, tmp_path, monkeypatch):
    monkeypatch.setenv("FMICL_BASES_DIR", str(tmp_path / "bases"))
    out = tmp_path / "bases" / "tiny-base"
    budget = ProbeBudget(steps=2, batch_size=4)
    verdict = build_base(
        _recipe(tiny_bert, tiny_data_home, out),
        probe_every=2,
        probe=budget,
        gate=budget,
        gate_learning_rates=(1e-4, 1e-3),
    )
    probes = read_records(tmp_path / "bases" / "tiny-base.probes.jsonl")
    assert [row["step"] for row in probes] == [0, 2, 4]
    assert probes[0]["mlm_loss"] is None and all(row["mlm_loss"] > 0 for row in probes[1:])
    for row in probes:
        assert row["lift"] == pytest.approx(row["after"] - row["stsb_dev_mean"])
        assert row["alignment"] >= 0 and row["uniformity"] <= 0  # the base's geometry (mean pooling)
    assert verdict["passed"] == (verdict["lift"] >= 5.0)
    # The gate ran at each learning rate; the best STS-B dev after it is the verdict.
    assert [t["learning_rate"] for t in verdict["tried"]] == [1e-4, 1e-3]
    assert verdict["after"] == max(t["after"] for t in verdict["tried"])
    assert f"lr {verdict['learning_rate']:g}" in verdict["budget"]
    assert json.loads((out / GATE_FILE).read_text())["lift"] == verdict["lift"]
    # Built: the folder is an MLM model and a sentence-transformers model, named base:tiny-base.
    from fmicl_text.modeling.build import resolve_model_path

    assert resolve_model_path("base:tiny-base") == str(out)
    # A second build does no training and no probing.
    monkeypatch.setattr(bases, "simcse_lift", lambda *a, **k: pytest.fail("probed again"))
    assert (
        build_base(_recipe(tiny_bert, tiny_data_home, out), probe_every=2, probe=budget, gate=budget)["lift"]
        == (verdict["lift"])
    )
    sittings = read_records(tmp_path / "bases" / "tiny-base.sittings.jsonl")
    assert [(s["from_step"], s["to_step"]) for s in sittings] == [(0, 2), (2, 4)]  # paused at each probe
    assert all(s["seconds"] > 0 for s in sittings)
    info = {"about": "tiny", "gate": verdict, "probes": probes, "probe_budget": "x", "sittings": sittings}
    lines = report_lines({"tiny-base": info}, gate_lift=5.0)
    assert any(line.startswith("| 4 |") for line in lines) and any("Gate (" in line for line in lines)
    assert any(line.startswith("Build time: 4 MLM steps in ") and "over 2 sitting(s)" in line for line in lines)
    assert any(line.startswith("Learning rates tried") for line in lines)
    plot_curve(probes, tmp_path / "curve.png", "tiny")
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_an_unbuilt_base_says_how_to_build_it(tmp_path, monkeypatch):
    from fmicl_text.modeling.build import resolve_model_path

    monkeypatch.setenv("FMICL_BASES_DIR", str(tmp_path))
    with pytest.raises(FmiclError, match="not built yet") as info:
        resolve_model_path("base:mlm-small")
    assert "fmicl-text base build recipes/base-mlm-small.yaml" in str(info.value)


def test_a_base_recipe_must_pretrain_with_mlm(tiny_bert, tiny_data_home, tmp_path):
    budget = ProbeBudget(steps=2, batch_size=4)
    with pytest.raises(FmiclError, match="MLM"):
        build_base(_recipe(tiny_bert, tiny_data_home, tmp_path / "b", **{"mlm.save_head": False}), probe_every=2,
                   probe=budget, gate=budget)  # fmt: skip


def test_report_only_writes_the_curve_so_far_without_training(tmp_path, monkeypatch, capsys):
    from fmicl_text.cli import main

    monkeypatch.setenv("FMICL_BASES_DIR", str(tmp_path / "bases"))
    recipe = tmp_path / "base-tiny.yaml"
    recipe.write_text(
        "name: base-tiny\nmodel: {name_or_path: x, init: random, pooling: mean}\n"
        "mlm: {weight: 1.0, contrastive_weight: 0.0, save_head: true}\ntraining: {max_steps: 100}\n"
        "eval: {dev: null, final_suite: null}\n"
    )
    argv = ["base", "build", str(recipe), "--report", str(tmp_path / "bases.md"), "--report-only"]
    assert main(argv) == 2
    assert "no probes yet" in capsys.readouterr().err
    row = {"step": 0, "mlm_loss": None, "stsb_dev_mean": 54.0, "stsb_dev_cls": 51.0, "after": 47.0, "lift": -7.0,
           "probe_seconds": 1.0}  # fmt: skip
    (tmp_path / "bases").mkdir()
    (tmp_path / "bases" / "tiny.probes.jsonl").write_text(json.dumps(row) + "\n")
    assert main(argv) == 0
    report = (tmp_path / "bases.md").read_text()
    assert "## tiny" in report and "building: 0 of 100 MLM steps" in report and "| 0 | - | 54.00 |" in report
    assert (tmp_path / "bases" / "tiny").exists() is False  # nothing trained
    assert (tmp_path / "bases" / "tiny.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_base_probe_prints_and_writes_the_lift(tiny_bert, tiny_data_home, tmp_path, capsys):
    """``fmicl-text base probe``: any encoder's STS-B dev before and after a short SimCSE run."""
    import json

    from fmicl_text.cli import main

    out = tmp_path / "probe.json"
    argv = ["base", "probe", tiny_bert, "--probe-steps", "2", "--probe-lr", "1e-3", "--batch-size", "4",
            "--data-dir", str(tiny_data_home)]  # fmt: skip
    assert main([*argv, "--output", str(out)]) == 0
    row = json.loads(out.read_text())
    assert row["lift"] == pytest.approx(row["after"] - row["stsb_dev_mean"])
    assert "2 steps, batch 4, lr 0.001" in row["probe"]
    assert f"(lift {row['lift']:+.2f})" in capsys.readouterr().out
    assert main(["base", "probe", tiny_bert, "--probe-lr", "0"]) == 2


def test_a_stopped_sitting_still_counts_in_the_build_time(tiny_bert, tiny_data_home, tmp_path, monkeypatch):
    from fmicl_text.errors import RunInterrupted
    from fmicl_text.training import trainer as trainer_module

    monkeypatch.setenv("FMICL_BASES_DIR", str(tmp_path / "bases"))
    fake = {"stsb_dev_mean": 50.0, "stsb_dev_cls": 50.0, "after": 49.0, "lift": -1.0, "probe_seconds": 1.0}
    monkeypatch.setattr(bases, "simcse_lift", lambda *a, **k: dict(fake))

    def stopped(*args, **kwargs):
        raise RunInterrupted("SIGTERM at step 0", signal_number=15)

    monkeypatch.setattr(trainer_module, "train", stopped)
    budget = ProbeBudget(steps=2, batch_size=4)
    out = tmp_path / "bases" / "tiny-base"
    with pytest.raises(RunInterrupted):
        build_base(_recipe(tiny_bert, tiny_data_home, out), probe_every=2, probe=budget, gate=budget)
    sittings = read_records(tmp_path / "bases" / "tiny-base.sittings.jsonl")
    assert [(s["from_step"], s["to_step"]) for s in sittings] == [(0, 0)] and sittings[0]["seconds"] >= 0
