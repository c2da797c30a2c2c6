"""``fmicl-text sweep`` on a tiny model: trials on the dev score, the outputs, a resume that never
reruns a finished trial, and a space checked before any training."""

from __future__ import annotations

import pytest
from conftest import tiny_recipe

from fmicl_text.cli import main
from fmicl_text.errors import FmiclError
from fmicl_text.training import trainer as trainer_module
from fmicl_text.training.search import BEST_RECIPE, STUDY_DB, TRIALS_PLOT, TRIALS_TABLE, load_space, sweep

SPACE = "training.learning_rate: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}\n"


def _recipe(model, home):
    return tiny_recipe(
        "search-test",
        model,
        home,
        **{
            "training.max_steps": 4,
            "training.batch_size": 4,
            "eval.eval_steps": 2,
            "eval.batch_size": 8,
            "eval.final_suite": None,
            "eval.diagnostics": False,
        },
    )


@pytest.mark.slow
def test_sweep_runs_trials_writes_outputs_and_resumes_without_repeating(
    tiny_bert, tiny_data_home, tmp_path, monkeypatch
):
    (tmp_path / "space.yaml").write_text(SPACE)
    space = load_space(tmp_path / "space.yaml")
    out = tmp_path / "sweep"
    calls = []
    real = trainer_module.train

    def counting(recipe, *args, **kwargs):
        calls.append(recipe.training.learning_rate)
        return real(recipe, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "train", counting)
    study = sweep(_recipe(tiny_bert, tiny_data_home), space=space, trials=2, output_dir=out)
    assert len(calls) == 2 and len(study.trials) == 2
    assert (out / STUDY_DB).is_file() and not (out / "trials").exists() or not any((out / "trials").iterdir())
    again = sweep(_recipe(tiny_bert, tiny_data_home), space=space, trials=3, output_dir=out)
    assert len(calls) == 3 and len(again.trials) == 3  # only the missing trial ran
    assert len({round(x, 12) for x in calls}) == 3  # three different learning rates
    sweep(_recipe(tiny_bert, tiny_data_home), space=space, trials=3, output_dir=out)
    assert len(calls) == 3  # nothing left to do
    table = (out / TRIALS_TABLE).read_text()
    assert table.count("| complete |") == 3 and "training.learning_rate" in table and "Best: trial" in table
    best = (out / BEST_RECIPE).read_text()
    assert f"learning_rate: {again.best_params['training.learning_rate']}" in best
    assert (out / TRIALS_PLOT).read_bytes()[:4] == b"\x89PNG"
    assert again.best_value == max(t.value for t in again.trials)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ("training.learning_rat: {type: float, low: 1.0e-4, high: 1.0e-2}\n", "did you mean 'learning_rate'"),
        ("loss.temperature: {type: float, low: 0.0, high: 0.1}\n", "temperature must be > 0"),
        ("training.learning_rate: {type: floot, low: 1, high: 2}\n", "did you mean 'float'"),
        ("training.learning_rate: {type: float, low: 2, high: 1}\n", "low < high"),
        ("training.learning_rate: {type: float, low: 0, high: 1, log: true}\n", "log range"),
        ("views.shared_bits: {type: categorical, choices: []}\n", "non-empty list"),
    ],
)
def test_a_bad_space_fails_before_any_training(space, message, tiny_bert, tiny_data_home, tmp_path):
    (tmp_path / "space.yaml").write_text(space)
    with pytest.raises(FmiclError, match=message):
        sweep(_recipe(tiny_bert, tiny_data_home), space=load_space(tmp_path / "space.yaml"), trials=1,
              output_dir=tmp_path / "out")  # fmt: skip
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_sweep_cli(tiny_bert, tiny_data_home, tmp_path, capsys):
    (tmp_path / "space.yaml").write_text(SPACE)
    argv = ["sweep", "--model", tiny_bert, "--pooling", "mean", "--data-dir", str(tiny_data_home), "--max-steps", "2",
            "--batch-size", "4", "--eval-steps", "2", "--no-final-eval", "--space", str(tmp_path / "space.yaml"),
            "--trials", "1", "--output-dir", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 0
    assert "| 0 | complete |" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("signal", ["SIGTERM in training", "Ctrl-C outside it"])
def test_a_signal_stops_the_sweep_and_the_stopped_trial_reruns_with_its_parameters(
    signal, tiny_bert, tiny_data_home, tmp_path, monkeypatch
):
    from fmicl_text.errors import RunInterrupted
    from fmicl_text.training.search import INTERRUPTED, RETRY_OF

    (tmp_path / "space.yaml").write_text(SPACE)
    space = load_space(tmp_path / "space.yaml")
    out, calls, real = tmp_path / "sweep", [], trainer_module.train

    def stopped_on_the_second(recipe, *args, **kwargs):
        calls.append(recipe.training.learning_rate)
        if len(calls) == 2 and signal.startswith("SIGTERM"):
            raise RunInterrupted("SIGTERM at step 2: checkpoint written", signal_number=15)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(recipe, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "train", stopped_on_the_second)
    with pytest.raises(RunInterrupted, match="sweep") as info:
        sweep(_recipe(tiny_bert, tiny_data_home), space=space, trials=3, output_dir=out)
    assert info.value.exit_code == (143 if signal.startswith("SIGTERM") else 130)
    assert len(calls) == 2  # the sweep stopped: no third trial began
    study = sweep(_recipe(tiny_bert, tiny_data_home), space=space, trials=3, output_dir=out)
    assert calls[2] == calls[1]  # the stopped trial first, with its own parameters
    assert len(calls) == 4 and sum(t.state.name == "COMPLETE" for t in study.trials) == 3
    stopped = [t for t in study.trials if t.user_attrs.get(INTERRUPTED)]
    assert [t.state.name for t in stopped] == ["FAIL"]
    assert [t.user_attrs.get(RETRY_OF) for t in study.trials].count(stopped[0].number) == 1
    sweep(_recipe(tiny_bert, tiny_data_home), space=space, trials=3, output_dir=out)
    assert len(calls) == 4  # done: the stopped trial is not queued again
