"""Reliability: a run killed (SIGKILL, mid-checkpoint, SIGINT) resumes to the same result as an
uninterrupted one; non-finite updates stop or are skipped; the output folder never loses a user's file.

The killed runs are real subprocesses: the kill comes from inside (a patched callback or writer),
at a fixed step, so the tests do not depend on timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import tiny_recipe
from safetensors.torch import load_file

from fmicl_text.cli import main
from fmicl_text.errors import FmiclError
from fmicl_text.recipe import Recipe
from fmicl_text.training import train

REPO = Path(__file__).resolve().parents[2]
STEPS = 8


def _flags(model: str, home: Path, out: Path, **extra: object) -> list[str]:
    """CLI flags of a small run: checkpoints every 2 steps, dropout and word-deletion views, no test suite."""
    flags = {
        "--model": model,
        "--train-data": "wiki",
        "--data-dir": str(home),
        "--max-seq-length": 16,
        "--output-dir": str(out),
        "--max-steps": STEPS,
        "--batch-size": 4,
        "--learning-rate": 1e-3,
        "--eval-steps": 2,
        "--views": "word_deletion(rate=0.2)",
        **extra,
    }
    argv = ["train"]
    for key, value in flags.items():
        argv += [key, str(value)]
    return [*argv, "--no-final-eval", "--set", "training.logging_steps=1", "--set", "eval.batch_size=8"]


def _run_script(body: str, argv: list[str]) -> subprocess.CompletedProcess:
    """Run ``body`` then ``fmicl_text.cli.main(argv)`` in a fresh Python process."""
    script = textwrap.dedent(body) + f"\nimport sys\nfrom fmicl_text.cli import main\nsys.exit(main({argv!r}))\n"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env, cwd=REPO
    )


KILL_AT_STEP_5 = """
import os, signal
from fmicl_text.training import callbacks

def on_step_end(self, args, state, control, **kwargs):
    if state.global_step == 5:
        os.kill(os.getpid(), signal.SIGKILL)
    return control

callbacks.EvaluateAtEnd.on_step_end = on_step_end
"""

KILL_WHILE_WRITING_CHECKPOINT_4 = """
import os, signal
from fmicl_text.training import run_folder

real = run_folder.fsync_tree

def fsync_tree(path):
    if path.name == "checkpoint-4":  # every file written, not yet renamed into place
        os.kill(os.getpid(), signal.SIGKILL)
    real(path)

run_folder.fsync_tree = fsync_tree
"""


def _signal_at_step_3(times: int) -> str:
    return f"""
import os, signal
from fmicl_text.training import callbacks

real = callbacks.EvaluateAtEnd.on_step_end

def on_step_end(self, args, state, control, **kwargs):
    if state.global_step == 3:
        for _ in range({times}):
            os.kill(os.getpid(), signal.SIGINT)
    return real(self, args, state, control, **kwargs)

callbacks.EvaluateAtEnd.on_step_end = on_step_end
"""


def _losses(out: Path) -> list[tuple[int, float]]:
    log = json.loads((out / "training_log.json").read_text())
    return [(row["step"], row["loss"]) for row in log if "loss" in row]


def _assert_same_run(a: Path, b: Path) -> None:
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=1e-5, atol=1e-6)
    la, lb = _losses(a), _losses(b)
    assert [s for s, _ in la] == [s for s, _ in lb] == list(range(1, STEPS + 1))
    assert [x for _, x in la] == pytest.approx([x for _, x in lb], rel=1e-5)
    ra, rb = (json.loads((p / "eval_results.json").read_text()) for p in (a, b))
    assert ra["steps"] == rb["steps"] == STEPS
    assert ra["dev"]["best_step"] == rb["dev"]["best_step"]
    assert ra["dev"]["best"] == pytest.approx(rb["dev"]["best"], abs=1e-4)


@pytest.fixture(scope="module")
def uninterrupted(tiny_bert, tiny_data_home, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    assert main(_flags(tiny_bert, tiny_data_home, out)) == 0
    return out


@pytest.mark.slow
def test_sigkill_after_a_checkpoint_resumes_to_the_same_run(uninterrupted, tiny_bert, tiny_data_home, tmp_path):
    out = tmp_path / "run"
    argv = _flags(tiny_bert, tiny_data_home, out)
    killed = _run_script(KILL_AT_STEP_5, argv)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (out / "checkpoints" / "checkpoint-4" / "trainer_state.json").is_file()
    assert not (out / "model.safetensors").exists()
    # The same command is refused with the way out; --resume continues.
    assert main(argv) == 2
    assert main([*argv, "--resume"]) == 0
    _assert_same_run(uninterrupted, out)
    assert json.loads((out / "eval_results.json").read_text())["resumed_from_step"] == 4


@pytest.mark.slow
def test_kill_while_writing_a_checkpoint_resumes_from_the_previous_one(
    uninterrupted, tiny_bert, tiny_data_home, tmp_path
):
    out = tmp_path / "run"
    argv = _flags(tiny_bert, tiny_data_home, out)
    killed = _run_script(KILL_WHILE_WRITING_CHECKPOINT_4, argv)
    assert killed.returncode == -9, killed.stderr[-2000:]
    checkpoints = out / "checkpoints"
    assert not (checkpoints / "checkpoint-4").exists()  # the half-written one never appeared
    assert (checkpoints / ".fmicl-staging" / "checkpoint-4").is_dir()
    assert main([*argv, "--resume"]) == 0
    _assert_same_run(uninterrupted, out)
    assert not (checkpoints / ".fmicl-staging").exists()


@pytest.mark.slow
def test_sigint_writes_a_checkpoint_and_prints_the_resume_command(uninterrupted, tiny_bert, tiny_data_home, tmp_path):
    out = tmp_path / "run"
    argv = [*_flags(tiny_bert, tiny_data_home, out), "--overwrite"]
    stopped = _run_script(_signal_at_step_3(1), argv)
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    assert "Traceback" not in stopped.stderr
    assert "stopped: SIGINT at step 3: checkpoint written" in stopped.stderr
    assert (out / "checkpoints" / "checkpoint-3" / "trainer_state.json").is_file()
    command = stopped.stderr.split("resume with: ", 1)[1].splitlines()[0]
    assert command.startswith("fmicl-text train ") and command.endswith(" --resume") and "--overwrite" not in command
    import shlex

    assert main(shlex.split(command)[1:]) == 0
    _assert_same_run(uninterrupted, out)


@pytest.mark.slow
def test_a_second_ctrl_c_exits_at_once(tiny_bert, tiny_data_home, tmp_path):
    out = tmp_path / "run"
    stopped = _run_script(_signal_at_step_3(2), _flags(tiny_bert, tiny_data_home, out))
    assert stopped.returncode == 130
    assert "SIGINT again: exiting now" in stopped.stderr and "Traceback" not in stopped.stderr
    assert not (out / "checkpoints" / "checkpoint-3").exists()


def _recipe(model: str, home: Path, out: Path, **overrides: object) -> Recipe:
    base = {
        "training.output_dir": str(out),
        "training.max_steps": 5,
        "training.batch_size": 4,
        "training.learning_rate": 1e-3,
        "training.logging_steps": 1,
        "eval.dev": None,
        "eval.final_suite": None,
    }
    return tiny_recipe("test", model, home, **{**base, **overrides})


class NanGradientsAt:
    """A callback that makes the gradients of the given steps NaN (through a hook on the word embeddings)."""

    def __init__(self, steps: set[int]) -> None:
        from transformers import TrainerCallback

        self.steps, self.now = steps, 0
        self.weights: dict[int, torch.Tensor] = {}
        outer = self

        class Callback(TrainerCallback):
            def on_train_begin(self, args, state, control, model=None, **kwargs):
                embeddings = model[0].auto_model.embeddings.word_embeddings.weight
                embeddings.register_hook(lambda g: g * float("nan") if outer.now in outer.steps else g)

            def on_step_begin(self, args, state, control, model=None, **kwargs):
                outer.now = state.global_step + 1
                outer.weights[outer.now] = model[0].auto_model.encoder.layer[0].output.dense.weight.detach().clone()

        self.callback = Callback()


def test_non_finite_gradients_stop_before_the_update(tiny_bert, tiny_data_home, tmp_path):
    nan = NanGradientsAt({3})
    with pytest.raises(FmiclError, match="non-finite at step 3"):
        train(_recipe(tiny_bert, tiny_data_home, tmp_path / "run"), callbacks=[nan.callback])


def test_non_finite_gradients_skip_drops_that_update_and_counts_it(tiny_bert, tiny_data_home, tmp_path):
    nan = NanGradientsAt({3})
    out = tmp_path / "run"
    result = train(
        _recipe(tiny_bert, tiny_data_home, out, **{"training.on_nonfinite": "skip"}), callbacks=[nan.callback]
    )
    assert result.steps == 5
    assert torch.equal(nan.weights[3], nan.weights[4])  # step 3 changed nothing
    assert not torch.equal(nan.weights[2], nan.weights[3])  # the other steps did
    results = json.loads((out / "eval_results.json").read_text())
    assert results["skipped_steps"] == 1
    assert "updates skipped for non-finite values: 1" in (out / "README.md").read_text()
    log = json.loads((out / "training_log.json").read_text())
    assert [row.get("skipped_steps", 0) for row in log if "loss" in row] == [0, 0, 1, 1, 1]
    weights = load_file(out / "model.safetensors")
    assert all(torch.isfinite(w).all() for w in weights.values())


def test_non_finite_gradients_skip_stops_after_too_many_in_a_row(tiny_bert, tiny_data_home, tmp_path):
    nan = NanGradientsAt({2, 3, 4})
    recipe = _recipe(
        tiny_bert,
        tiny_data_home,
        tmp_path / "run",
        **{"training.on_nonfinite": "skip", "training.max_nonfinite_in_row": 3},
    )
    with pytest.raises(FmiclError, match="non-finite at step 4"):
        train(recipe, callbacks=[nan.callback])


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_overwrite_never_replaces_or_deletes_a_users_file(tiny_bert, tiny_data_home, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "README.md").write_text("my notes")
    with pytest.raises(FmiclError, match="README.md, not written by this tool"):
        train(_recipe(tiny_bert, tiny_data_home, out, **{"training.overwrite": True}))
    assert _tree(out) == {"README.md": b"my notes"}  # nothing written, nothing left behind

    (out / "README.md").rename(out / "notes.md")
    train(_recipe(tiny_bert, tiny_data_home, out, **{"training.overwrite": True}))
    assert (out / "notes.md").read_text() == "my notes" and (out / "model.safetensors").is_file()
    manifest = json.loads((out / "fmicl_files.json").read_text())
    assert "notes.md" not in manifest and "README.md" in manifest

    # A finished run is not retrained by accident; --overwrite replaces only what this tool wrote.
    with pytest.raises(FmiclError, match="holds a finished run"):
        train(_recipe(tiny_bert, tiny_data_home, out))
    with pytest.raises(FmiclError, match="already finished"):
        train(_recipe(tiny_bert, tiny_data_home, out), resume="latest")
    (out / "2_Dense").mkdir()  # pretend the old model had a module the new one lacks
    manifest.append("2_Dense")
    (out / "fmicl_files.json").write_text(json.dumps(manifest))
    before = (out / "model.safetensors").read_bytes()
    train(_recipe(tiny_bert, tiny_data_home, out, **{"training.overwrite": True, "training.seed": 7}))
    assert (out / "model.safetensors").read_bytes() != before
    assert not (out / "2_Dense").exists() and (out / "notes.md").read_text() == "my notes"
    assert not any(p.name.startswith(".fmicl") for p in out.iterdir())


def test_resume_refuses_another_recipe_and_names_the_keys(tiny_bert, tiny_data_home, tmp_path):
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    from fmicl_text.training.run_folder import RunFolder

    RunFolder(out).start(_recipe(tiny_bert, tiny_data_home, out).to_dict(), fresh=True)
    (out / "checkpoints" / "checkpoint-2").mkdir()
    (out / "checkpoints" / "checkpoint-2" / "trainer_state.json").write_text("{}")
    changed = _recipe(tiny_bert, tiny_data_home, out, **{"loss.temperature": 0.1, "training.max_steps": 9})
    with pytest.raises(FmiclError) as info:
        train(changed, resume="latest")
    message = str(info.value)
    assert "loss.temperature: unset -> 0.1" in message and "training.max_steps: 5 -> 9" in message
    with pytest.raises(FmiclError, match="holds an unfinished run"):
        train(_recipe(tiny_bert, tiny_data_home, out))
    with pytest.raises(FmiclError, match="nothing to resume"):
        train(_recipe(tiny_bert, tiny_data_home, tmp_path / "empty"), resume="latest")


@pytest.mark.slow
def test_out_of_memory_names_the_knobs_and_blocks_nothing(tiny_bert, tiny_data_home, tmp_path, monkeypatch):
    from fmicl_text.training.fmicl_trainer import FmiclTrainer

    def oom(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(FmiclTrainer, "training_step", oom)
    out = tmp_path / "run"
    with pytest.raises(FmiclError, match="out of memory at step 1") as info:
        train(_recipe(tiny_bert, tiny_data_home, out, **{"training.batch_size": 8}))
    assert "--batch-size" in str(info.value) and "--max-seq-length" in str(info.value)
    monkeypatch.undo()
    # Nothing was checkpointed, so the smaller rerun starts in the same folder without --overwrite.
    assert train(_recipe(tiny_bert, tiny_data_home, out, **{"training.batch_size": 4})).steps == 5


@pytest.mark.slow
def test_keeps_the_last_k_checkpoints_and_the_best(tiny_bert, tiny_data_home, tmp_path):
    out = tmp_path / "run"
    recipe = _recipe(
        tiny_bert,
        tiny_data_home,
        out,
        **{"training.max_steps": 10, "training.keep_checkpoints": 2, "eval.dev": "stsb-dev", "eval.eval_steps": 2},
    )
    result = train(recipe)
    kept = sorted(int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("checkpoint-*"))
    assert kept == sorted({8, 10, result.best_step})
