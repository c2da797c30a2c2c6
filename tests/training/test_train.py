"""End to end: train a few steps, save, load with sentence-transformers, evaluate.

Tiny random BERT and RoBERTa for the mechanics; the packaged all-MiniLM-L6-v2 and the real data
for one real run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from fmicl_text.errors import FmiclError
from fmicl_text.recipe import Recipe, apply_overrides
from fmicl_text.training import train


def results_base_name(out) -> str:
    return json.loads((out / "eval_results.json").read_text())["base_model"]


def fixed_batch_loss(model) -> float:
    """InfoNCE (the run's loss, temperature 0.05) on the test sentences as one batch, two dropout views, seeded."""
    from conftest import SENTENCES

    from fmicl_text import losses

    loss = losses.build("infonce", model, temperature=0.05)
    features = model.preprocess(SENTENCES)
    model.train()
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(0)
        return float(sum(loss([features, dict(features)], None).values()))


def _recipe(model: str, home, out, **overrides) -> Recipe:
    base = {
        "model.name_or_path": model,
        "data.train": "wiki",
        "data.data_dir": str(home),
        "data.max_seq_length": 16,
        "training.output_dir": str(out),
        "training.max_steps": 4,
        "training.batch_size": 4,
        "training.learning_rate": 1e-3,
        "training.logging_steps": 1,
        "eval.eval_steps": 2,
        "eval.batch_size": 8,
    }
    return apply_overrides(Recipe(name="test"), {**base, **overrides})


@pytest.mark.parametrize("encoder", ["tiny_bert", "tiny_roberta"])
@pytest.mark.slow
def test_train_saves_a_loadable_model(request, encoder, tiny_data_home, tmp_path):
    from sentence_transformers import SentenceTransformer

    from fmicl_text.evaluation.sts import evaluate_sts

    out = tmp_path / "run"
    result = train(_recipe(request.getfixturevalue(encoder), tiny_data_home, out))
    assert result.steps == 4
    assert result.best_step in (2, 4) and result.best_dev is not None
    # The output folder: safetensors weights, model card, recipe, results, log; no train-only head.
    names = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "README.md", "fmicl_recipe.yaml", "eval_results.json", "modules.json"} <= names
    assert not any(p.suffix == ".bin" for p in out.rglob("*") if "checkpoints" not in p.parts)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "`infonce`" in card and "`temperature=0.05`" in card and "- steps: 4," in card
    # The card reads like a finished one: no placeholders, no self-paired widgets, no -1 log row.
    for placeholder in ("sentence_transformers_model_id", "Unnamed Dataset", "| -1 ", "0.0000 |", "widget:"):
        assert placeholder not in card, placeholder
    assert f'SentenceTransformer("{out}")' in card and "overwrite: false" in card and "gao2021simcse" in card
    # The test table beside the base model's, and the model-index metadata holds the test scores.
    assert "| this model | " in card and f"| base (`{results_base_name(out)}`) | " in card
    assert "spearman_cosine" in card.split("---")[1]
    results = json.loads((out / "eval_results.json").read_text())
    assert set(results["test"]["scores"]) == {"sts12", "sts13", "sts14", "sts15", "sts16", "stsb", "sickr", "avg"}
    assert results["steps"] == 4 and results["loss"]["temperature"] == 0.05
    assert results["hardware"] not in ("cpu", "cuda", "cuda:0") and f"1 process on {results['hardware']}, " in card
    assert set(results["base"]["test"]["scores"]) == set(results["test"]["scores"])
    assert results["base"]["dev"] is not None and f"(the base model: {results['base']['dev']:.2f})" in card
    # The saved model is the best checkpoint, minus the head: its scores match the ones reported.
    loaded = SentenceTransformer(str(out))
    # The usage snippet prints what the saved model really computes.
    from fmicl_text.reporting.model_card import EXAMPLES

    emb = loaded.encode(list(EXAMPLES), convert_to_tensor=True)
    first_row = ", ".join(f"{v:.4f}" for v in loaded.similarity(emb, emb)[0].tolist())
    assert f"# tensor([[{first_row}]," in card
    assert "TrainOnlyDense" not in str(loaded)
    again = evaluate_sts(loaded, suite="senteval7", data_dir=tiny_data_home, show_progress=False)
    for key, value in results["test"]["scores"].items():
        assert again.scores[key] == pytest.approx(value, abs=1e-3)
    # Training moved the weights (the saved encoder is not the base's) and the loss fell; it is logged per part.
    from safetensors.torch import load_file

    from fmicl_text.modeling import ModelConfig, build_model, strip_train_only_modules

    base_weights = load_file(str(Path(request.getfixturevalue(encoder)) / "model.safetensors"))
    saved = load_file(str(out / "model.safetensors"))
    common = [key for key in base_weights if key in saved]
    moved = [key for key in common if not torch.equal(base_weights[key], saved[key])]
    assert len(common) == len(base_weights) and len(moved) > len(common) // 2, f"{len(moved)} of {len(common)} moved"
    log = json.loads((out / "training_log.json").read_text())
    losses = [row["loss"] for row in log if "loss" in row]
    assert len(losses) >= 4 and all(math.isfinite(x) for x in losses)
    # (The logged losses are of 4 different batches of 4: too noisy to compare. One fixed batch, the same
    # dropout masks, the base encoder against the saved one, is not.)
    base_model = build_model(ModelConfig(request.getfixturevalue(encoder)))
    strip_train_only_modules(base_model)
    assert fixed_batch_loss(loaded) < fixed_batch_loss(base_model)
    assert any(k.startswith("positive") or k.endswith("positive") for row in log for k in row)
    # Diagnostics are logged at every evaluation, beside the dev score that picks the checkpoint.
    evals = [row for row in log if "eval_sts_stsb_dev" in row]
    assert len(evals) == 2 and all(math.isfinite(row["eval_diag_uniformity"]) for row in evals)
    assert all({"eval_diag_alignment", "eval_diag_erank", "eval_diag_i_nce"} <= set(row) for row in evals)


def test_build_trainer_and_finalize_run_are_the_two_halves_of_train(tiny_bert, tiny_data_home, tmp_path):
    """Your own rows into the trainer build_trainer makes, your own call of train(), then the run folder."""
    from conftest import SENTENCES
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer

    from fmicl_text.training import build_trainer, finalize_run

    out = tmp_path / "run"
    recipe = _recipe(tiny_bert, tiny_data_home, out, **{"eval.dev": None, "eval.final_suite": None})
    trainer = build_trainer(recipe, Dataset.from_dict({"anchor": SENTENCES, "positive": SENTENCES}))
    assert trainer.dev_evaluator is None and trainer.data_report is None
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train()
    result = finalize_run(recipe, trainer)
    assert result.steps == 4 and result.output_dir == out
    results = json.loads((out / "eval_results.json").read_text())
    assert results["data"] == f"{len(SENTENCES)} rows" and results["steps"] == 4
    loaded = SentenceTransformer(str(out))
    moved = [k for k, v in loaded.state_dict().items() if k in before and not torch.equal(v, before[k])]
    assert moved, "training did not change the saved weights"


def test_checkpoints_hold_no_default_model_card(tiny_bert, tiny_data_home, tmp_path):
    """A checkpoint is saved without sentence-transformers' default card (its Hub-id placeholder, no recipe):
    the run's card is written once, for the final folder."""
    out = tmp_path / "run"
    recipe = _recipe(tiny_bert, tiny_data_home, out, **{
        "eval.final_suite": None, "eval.diagnostics": False, "training.keep_checkpoints": 2,
    })  # fmt: skip
    train(recipe)
    checkpoints = sorted((out / "checkpoints").glob("checkpoint-*"))
    assert [p.name for p in checkpoints] == ["checkpoint-2", "checkpoint-4"]
    for checkpoint in checkpoints:
        assert (checkpoint / "model.safetensors").is_file() and (checkpoint / "training_args.bin").is_file()
        assert not (checkpoint / "README.md").exists(), checkpoint
        for file in checkpoint.rglob("*"):
            if file.is_file() and file.suffix in (".md", ".json", ".txt", ".yaml"):
                assert "sentence_transformers_model_id" not in file.read_text(encoding="utf-8"), file
    assert "sentence_transformers_model_id" not in (out / "README.md").read_text(encoding="utf-8")


def test_the_base_models_alignment_and_uniformity_are_recorded(tiny_bert, tiny_data_home, tmp_path, monkeypatch):
    """With the diagnostics on, results["base"] holds the untrained model's alignment and uniformity, measured
    as the diagnostics evaluator measures a step (the report's reference point), and cached per weights."""
    from fmicl_text.evaluation.diagnostics import diagnose, load_diagnostics_data
    from fmicl_text.modeling import ModelConfig, build_model

    monkeypatch.setenv("FMICL_CACHE_DIR", str(tmp_path / "cache"))
    recipe = _recipe(tiny_bert, tiny_data_home, tmp_path / "run", **{"eval.final_suite": None})
    train(recipe)
    base = json.loads((tmp_path / "run" / "eval_results.json").read_text())["base"]
    expected = diagnose(build_model(ModelConfig(tiny_bert)), load_diagnostics_data(data_dir=tiny_data_home),
                        i_nce_batches=1)  # fmt: skip
    assert base["alignment"] == pytest.approx(expected.alignment, rel=1e-4)
    assert base["uniformity"] == pytest.approx(expected.uniformity, rel=1e-4)
    assert len(list((tmp_path / "cache" / "base-scores").glob("*-geometry-stsb-dev-senteval-*.json"))) == 1
    # Without the diagnostics, nothing is measured for them.
    train(_recipe(tiny_bert, tiny_data_home, tmp_path / "plain", **{"eval.final_suite": None,
                                                                     "eval.diagnostics": False}))  # fmt: skip
    assert "alignment" not in json.loads((tmp_path / "plain" / "eval_results.json").read_text())["base"]


def test_the_dev_suite_is_scored_once_per_evaluation_step(tiny_bert, tiny_data_home, tmp_path, monkeypatch):
    """The kept model is not scored on dev again after training (its score is the one it was kept for), and the
    log holds no empty eval throughput (the evaluators score their own data, not an eval dataset)."""
    from fmicl_text.evaluation.evaluators import StsEvaluator

    calls = []
    real = StsEvaluator.__call__

    def counted(self, model, output_path=None, epoch=-1, steps=-1):
        calls.append(steps)
        return real(self, model, output_path, epoch, steps)

    monkeypatch.setattr(StsEvaluator, "__call__", counted)
    out = tmp_path / "run"
    result = train(_recipe(tiny_bert, tiny_data_home, out, **{"eval.final_suite": None}))
    assert calls == [2, 4] and result.best_step in (2, 4)
    log = json.loads((out / "training_log.json").read_text())
    evals = [row for row in log if "eval_sts_stsb_dev" in row]
    assert [row["step"] for row in evals] == [2, 4] and all(row["eval_runtime"] > 0 for row in evals)
    assert not any("eval_samples_per_second" in row or "eval_steps_per_second" in row for row in log)


def test_hardware_names_the_gpu_or_the_cpu_and_its_threads(monkeypatch):
    """The card's hardware line: a GPU by its name and memory, a CPU by its model and threads (not "cpu")."""
    import os
    from types import SimpleNamespace

    from fmicl_text.training import trainer as trainer_module

    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    monkeypatch.setattr(
        torch.cuda, "get_device_properties", lambda device=None: SimpleNamespace(total_memory=141 * 2**30)
    )
    assert trainer_module.hardware("cuda") == "NVIDIA H200 (141 GiB)"
    cpu = trainer_module.hardware("cpu")
    assert cpu.startswith("CPU: ") and f"{os.cpu_count()} threads" in cpu and cpu != "CPU: cpu"
    monkeypatch.setattr(trainer_module, "cpu_model", lambda: "Intel(R) Xeon(R) Gold 6338")
    assert trainer_module.hardware("cpu") == f"CPU: Intel(R) Xeon(R) Gold 6338, {os.cpu_count()} threads"


@pytest.mark.slow
def test_report_to_tensorboard_writes_the_training_loss(tiny_bert, tiny_data_home, tmp_path):
    """``--report-to tensorboard``: transformers' own callback writes the logged loss, one scalar per log row."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    recipe = _recipe(tiny_bert, tiny_data_home, out, **{
        "training.report_to": "tensorboard", "eval.dev": None, "eval.final_suite": None,
    })  # fmt: skip
    train(recipe)
    runs = [p.parent for p in (out / "checkpoints").rglob("events.out.tfevents.*")]
    assert runs, "no TensorBoard event file"
    events = EventAccumulator(str(runs[0]))
    events.Reload()
    losses = [e.value for e in events.Scalars("train/loss")]
    log = json.loads((out / "training_log.json").read_text())
    assert losses == pytest.approx([row["loss"] for row in log if "loss" in row], rel=1e-6)


def test_report_to_checks_each_tracker_before_anything_loads(tmp_path):
    for spec, message in (("tensorbord", "did you mean 'tensorboard'"), ("comet_ml", "not installed")):
        recipe = apply_overrides(Recipe(), {"training.report_to": spec, "model.name_or_path": str(tmp_path / "none")})
        with pytest.raises(FmiclError, match=message):
            train(recipe)  # the model path does not exist: the tracker was checked first


def test_refuses_non_empty_output_and_small_batches(tiny_bert, tiny_data_home, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("user file")
    with pytest.raises(FmiclError, match="files this tool did not write: keep.txt"):
        train(_recipe(tiny_bert, tiny_data_home, out))
    assert (out / "keep.txt").read_text() == "user file"
    with pytest.raises(FmiclError, match="at least 2"):
        train(_recipe(tiny_bert, tiny_data_home, tmp_path / "b", **{"training.batch_size": 1}))
    with pytest.raises(FmiclError, match="unknown loss"):
        train(_recipe(tiny_bert, tiny_data_home, tmp_path / "c", **{"loss.name": "infonse"}))
    triplets = tmp_path / "nli.tsv"
    triplets.write_text("sent0\tsent1\thard_neg\n" + "a b\tc d\te f\n" * 8, encoding="utf-8")
    with pytest.raises(FmiclError, match="in-batch negatives only"):
        train(_recipe(tiny_bert, tiny_data_home, tmp_path / "d", **{"loss.name": "dhel", "data.train": str(triplets)}))


def test_non_finite_loss_stops_with_the_step(tiny_bert, tiny_data_home, tmp_path, monkeypatch):
    import fmicl_text.losses.infonce as infonce

    real = infonce.info_nce
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += args[0].shape[0] == 4  # training batches only (the loss validates itself on 2 rows)
        parts = real(*args, **kwargs)
        if calls["n"] >= 3:
            parts["negative"] = parts["negative"] * torch.tensor(float("nan"))
        return parts

    monkeypatch.setattr(infonce, "info_nce", poisoned)
    out = tmp_path / "run"
    with pytest.raises(FmiclError, match="non-finite at step 3") as info:
        train(_recipe(tiny_bert, tiny_data_home, out, **{"training.max_steps": 6}))
    assert "checkpoint-2" in str(info.value)
    assert not (out / "model.safetensors").exists()  # nothing broken saved as the result


@pytest.mark.slow
def test_real_minilm_run(minilm_path, data_dir, tmp_path):
    """A few real steps on all-MiniLM-L6-v2 + Wikipedia; STS-B dev stays where a sentence model is."""
    from sentence_transformers import SentenceTransformer

    from fmicl_text.evaluation.sts import evaluate_sts

    out = tmp_path / "minilm"
    recipe = _recipe(
        "sentence-transformers/all-MiniLM-L6-v2",
        data_dir,
        out,
        **{
            "model.pooling": "mean",
            "training.max_steps": 3,
            "training.batch_size": 8,
            "training.learning_rate": 1e-5,
            "eval.eval_steps": 3,
            "eval.final_suite": "stsb-dev",
            "eval.batch_size": 128,
        },
    )
    result = train(recipe)
    loaded = SentenceTransformer(str(out))
    dev = evaluate_sts(loaded, suite="stsb-dev", data_dir=data_dir, show_progress=False)
    assert dev.scores["stsb_dev"] == pytest.approx(result.best_dev, abs=0.01)
    # The base as the run scored it is all-MiniLM-L6-v2's known STS-B dev (86.72 with mean pooling), and three
    # steps at 1e-5 leave the model within a point of it: a pipeline bug (pooling, truncation, wrong file, a
    # broken update) drops far below.
    base_dev = json.loads((out / "eval_results.json").read_text())["base"]["dev"]
    assert base_dev == pytest.approx(86.72, abs=0.05)
    assert dev.scores["stsb_dev"] > base_dev - 1.0


@pytest.mark.slow
def test_torchrun_two_processes_gather_and_write_once(tiny_bert, tiny_data_home, tmp_path):
    """DDP on CPU through torchrun: two processes train, one writes the folder."""
    import os
    import subprocess
    import sys

    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "fmicl_text", "train", "--model", tiny_bert, "--data-dir", str(tiny_data_home), "--loss", "au",
        "--gather-across-devices", "--max-steps", "2", "--batch-size", "4", "--max-seq-length", "16",
        "--eval-steps", "1", "--output-dir", str(out),
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "eval_results.json").read_text())
    assert results["world_size"] == 2 and results["steps"] == 2
    assert results["loss"]["gather_across_devices"] is True
    assert proc.stdout.count("saved to") == 1


@pytest.mark.slow
def test_two_processes_follow_the_loss_curve_of_one_on_the_global_batch(tiny_bert, tiny_data_home, tmp_path):
    """2 processes x batch 4 with gathering = 1 process x batch 8: the same rows each step (process i takes
    every i-th batch of the one sampler), the same loss and gradients, so the same curve. Dropout off, so
    the only randomness is the data order; AU's uniformity term is not a mean over rows, so a loss that
    forgot the other process's rows would differ."""
    import os
    import subprocess
    import sys

    def run(processes: int, batch: int) -> list[float]:
        out = tmp_path / f"p{processes}"
        recipe = _recipe(tiny_bert, tiny_data_home, out, **{
            "loss.name": "au", "loss.gather_across_devices": True, "model.dropout": 0.0, "training.max_steps": 4,
            "training.batch_size": batch, "eval.dev": None, "eval.final_suite": None,
        })  # fmt: skip
        recipe.save(tmp_path / f"p{processes}.yaml")
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
        cmd = [
            *(launcher if processes > 1 else [sys.executable]),
            "-m",
            "fmicl_text",
            "train",
            str(tmp_path / f"p{processes}.yaml"),
        ]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert json.loads((out / "eval_results.json").read_text())["world_size"] == processes
        log = json.loads((out / "training_log.json").read_text())
        return [row["loss"] for row in log if "loss" in row]

    one, two = run(1, 8), run(2, 4)
    assert len(one) == len(two) == 4
    assert two == pytest.approx(one, rel=1e-4, abs=1e-6)
    assert one[0] != pytest.approx(one[-1], rel=1e-3)  # the weights moved: a curve, not one value repeated


@pytest.mark.slow
def test_supervised_triplets_with_views_train(tiny_bert, tiny_data_home, tmp_path):
    """Triplets + token and embedding views + shared bits through the trainer: the loss falls, weights move."""
    import random

    from conftest import SENTENCES
    from safetensors.torch import load_file

    rng = random.Random(0)
    triplets = tmp_path / "nli.tsv"
    rows = [f"{s}\t{s.lower()}\t{rng.choice(SENTENCES)}" for s in SENTENCES * 4]
    triplets.write_text("sent0\tsent1\thard_neg\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    recipe = _recipe(
        tiny_bert,
        tiny_data_home,
        out,
        **{
            "model.pooling": "mean",
            "data.train": str(triplets),
            "loss.name": "fmicl",
            "loss.similarity": "cosine",
            "views.a": [{"name": "token_cutoff", "rate": 0.2}],
            "views.b": [{"name": "word_deletion", "rate": 0.2}, {"name": "feature_cutoff"}],
            "views.shared_bits": 1,
            "training.max_steps": 8,
            "training.batch_size": 8,
            "eval.final_suite": None,
            "eval.eval_steps": 8,
        },
    )
    torch.manual_seed(0)
    from fmicl_text.modeling import ModelConfig, build_model

    before = {k: v.clone() for k, v in build_model(ModelConfig(tiny_bert, pooling="mean")).state_dict().items()}
    result = train(recipe)
    assert result.steps == 8
    after = load_file(str(out / "model.safetensors"))
    assert set(after) == {key.removeprefix("0.model.") for key in before}
    moved = [key for key, value in after.items() if not torch.equal(value, before["0.model." + key])]
    assert len(moved) > len(after) // 2, "training did not change the weights"
    log = json.loads((out / "training_log.json").read_text())
    losses = [row["loss"] for row in log if "loss" in row]
    assert losses[-1] < losses[0]
    saved = (out / "fmicl_recipe.yaml").read_text()
    assert "word_deletion" in saved and "shared_bits: 1" in saved
    assert json.loads((out / "eval_results.json").read_text())["views"].startswith("a=token_cutoff(rate=0.2)")
