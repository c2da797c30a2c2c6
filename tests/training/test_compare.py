"""``fmicl-text compare`` on a tiny model: rows tuned alike on dev, seeds trained and scored, a resume that
reruns nothing, stale records left out when the spec changes, and a bad spec refused before any training."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from conftest import tiny_recipe

from fmicl_text.cli import main
from fmicl_text.errors import FmiclError
from fmicl_text.layout import AVG, CHECKPOINTS_DIR, RUN_STATE_FILE
from fmicl_text.reporting.compare import BASE_ROW, comparison_lines, mteb_lines, paired_test, replace_section, verdict
from fmicl_text.training import trainer as trainer_module
from fmicl_text.training.compare import MTEB_FILE, RECORDS_FILE, REPRODUCE_FILE, TABLE_FILE, load_comparison

SPACE = {"loss.temperature": {"type": "float", "low": 0.02, "high": 0.5, "log": True}}


def _spec(tmp_path, model, home, **changes):
    recipe = tiny_recipe(
        "compare-test", model, home,
        **{"training.max_steps": 4, "training.batch_size": 4, "eval.eval_steps": 2, "eval.batch_size": 8,
           "eval.final_suite": "senteval7", "eval.diagnostics": False},
    )  # fmt: skip
    recipe.save(tmp_path / "recipe.yaml")
    spec = {
        "name": "tiny",
        "recipe": "recipe.yaml",
        "set": {"training.learning_rate": 1e-3},
        "trials": 2,
        "startup_trials": 1,
        "seeds": [1, 2],
        "reference": "infonce",
        "rows": {"infonce": {"set": {"loss.name": "infonce"}, "space": SPACE}, "au": {"set": {"loss.name": "au"}}},
        **changes,
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return tmp_path / "spec.yaml"


@pytest.mark.slow
def test_compare_tunes_trains_seeds_writes_the_table_and_resumes_without_rerunning(
    tiny_bert, tiny_data_home, tmp_path, monkeypatch, capsys
):
    runs = []
    real = trainer_module.train

    def counting(recipe, *args, **kwargs):
        runs.append((recipe.name, recipe.eval.final_suite, recipe.training.seed))
        return real(recipe, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "train", counting)
    spec, out, report = _spec(tmp_path, tiny_bert, tiny_data_home), tmp_path / "out", tmp_path / "objectives.md"
    argv = ["compare", str(spec), "--output-dir", str(out), "--report", str(report)]
    assert main(argv) == 0
    tuning = [r for r in runs if r[1] is None]
    seeded = [r for r in runs if r[1] is not None]
    assert [r[0] for r in tuning] == ["infonce", "infonce"]  # only the row with a space is tuned; no test suite
    assert sorted((name, seed) for name, _, seed in seeded) == [("au", 1), ("au", 2), ("infonce", 1), ("infonce", 2)]
    records = [json.loads(line) for line in (out / RECORDS_FILE).read_text().splitlines()]
    assert len(records) == 4
    for record in records:
        assert set(record["test"]) >= {"sts12", "sickr", AVG} and record["dev"] is not None
        assert set(record["diagnostics"]) == {"alignment", "uniformity", "erank", "i_nce"}
        assert [point["step"] for point in record["trajectory"]] == [2, 4]  # every evaluation, kept
        assert all(any(key.endswith("stsb_dev") for key in point) for point in record["trajectory"])
        assert record["base"]["model"] == str(tiny_bert) and set(record["base"]["test"]) >= {"sts12", AVG}
    infonce = [r for r in records if r["row"] == "infonce"]
    assert {r["params"]["loss.temperature"] for r in infonce} == {infonce[0]["params"]["loss.temperature"]}
    assert (out / "runs" / "au" / "seed-1" / "model.safetensors").is_file()  # the first seed's models are kept
    assert not (out / "runs" / "au" / "seed-2").exists()
    table = (out / TABLE_FILE).read_text()
    assert "| au | 2 |" in table and "| infonce | 2 |" in table and "reference" in table
    assert "temperature" in table and "(fixed)" in table and f"| {BASE_ROW} | - |" in table
    section = report.read_text()
    assert "<!-- compare:tiny -->" in section and "| au | 2 |" in section
    assert (tmp_path / "objectives" / "tiny.png").read_bytes()[:4] == b"\x89PNG"
    assert "wrote" in capsys.readouterr().out

    runs.clear()
    assert main(argv) == 0
    assert runs == []  # everything was done: nothing reruns
    assert report.read_text().count("<!-- compare:tiny -->") == 1
    (out / TABLE_FILE).unlink()
    report.write_text("# mine\n")
    _spec(tmp_path, tiny_bert, tiny_data_home, seeds=[1, 2, 3])  # a seed to go: the report stage still trains none
    assert main([*argv, "--stage", "report"]) == 0 and runs == []
    assert "| au | 2 |" in (out / TABLE_FILE).read_text()
    assert report.read_text().startswith("# mine\n") and "| au | 2 |" in report.read_text()
    _spec(tmp_path, tiny_bert, tiny_data_home)

    # stage mteb: the top row by test average and the reference, their first seed's models, on a local task
    task = tmp_path / "tasks" / "sts" / "mini-sts"
    task.mkdir(parents=True)
    pairs = [("a man plays a guitar", "a person plays music", 4.0), ("a cat sleeps", "the stock market fell", 0.2),
             ("two dogs run", "dogs are running", 4.5), ("a woman cooks", "a chef prepares food", 3.5),
             ("rain in spain", "a man plays a guitar", 0.5)]  # fmt: skip
    task.joinpath("test.tsv").write_text(
        "sentence1\tsentence2\tscore\n" + "".join(f"{a}\t{b}\t{c}\n" for a, b, c in pairs)
    )
    _spec(tmp_path, tiny_bert, tiny_data_home, mteb={"tasks": ["mini-sts"], "local_dir": "tasks", "top": 1})
    assert main([*argv, "--stage", "mteb"]) == 0 and runs == []  # nothing trains
    scored = [json.loads(line) for line in (out / MTEB_FILE).read_text().splitlines()]
    # top 1 of 2, and the reference; and the untrained base (row null, the model as key)
    assert sorted(str(r["row"]) for r in scored) == ["None", "au", "infonce"]
    assert [r["key"] for r in scored if r["row"] is None] == [tiny_bert]
    assert all(r["task"] == "mini-sts" and -1 <= r["main_score"] <= 1 for r in scored)
    assert main([*argv, "--stage", "mteb"]) == 0
    assert len((out / MTEB_FILE).read_text().splitlines()) == 3  # a rerun scores nothing again
    assert f"| {BASE_ROW} |" in (out / TABLE_FILE).read_text().split("### MTEB beside STS")[1]
    # a fresh checkout lacks the kept weights: the first seed trains again (same recipe, same scores), then is scored
    shutil.rmtree(out / "runs" / "au" / "seed-1")
    (out / MTEB_FILE).write_text("".join(line + "\n" for line in (out / MTEB_FILE).read_text().splitlines()
                                         if json.loads(line)["row"] != "au"))  # fmt: skip
    assert main([*argv, "--stage", "mteb"]) == 0 and [(name, seed) for name, _, seed in runs] == [("au", 1)]
    assert "the retrained first seed scores" not in capsys.readouterr().err  # identical to its record
    assert len((out / MTEB_FILE).read_text().splitlines()) == 3 and (out / "runs" / "au" / "seed-1").is_dir()
    runs.clear()
    # a first-seed folder retrained from another recipe is refused, not scored under the current one's name
    state_file = out / "runs" / "au" / "seed-1" / CHECKPOINTS_DIR / RUN_STATE_FILE
    state = json.loads(state_file.read_text())
    state["recipe"]["training"]["learning_rate"] = 0.5
    state_file.write_text(json.dumps(state))
    (out / MTEB_FILE).write_text("")
    assert main([*argv, "--stage", "mteb"]) == 2
    assert "trained from another recipe" in capsys.readouterr().err
    assert "### MTEB beside STS" in (out / TABLE_FILE).read_text() and "mini-sts" in report.read_text()

    # reproduce: the reference's first seed trains again, in its own folder, and matches its record
    runs.clear()
    assert main([*argv, "--stage", "reproduce"]) == 0
    assert [(name, seed) for name, _, seed in runs] == [("infonce", 1)]
    (entry,) = [json.loads(line) for line in (out / REPRODUCE_FILE).read_text().splitlines()]
    assert entry["row"] == "infonce" and entry["seed"] == 1 and entry["seed_sd"] is not None
    assert entry["rerun"]["test"][AVG] == pytest.approx(entry["recorded"]["test"][AVG], abs=1e-6)
    assert entry["rerun"]["dev"] == pytest.approx(entry["recorded"]["dev"], abs=1e-6)
    assert "| infonce | 1 | test average |" in capsys.readouterr().out
    assert not (out / "reproduce" / "runs" / "infonce" / "seed-1").exists()  # its numbers kept, not its weights
    assert main([*argv, "--stage", "reproduce"]) == 0 and len(runs) == 1  # done once: not trained again
    assert main([*argv, "--stage", "reproduce", "--rows", "au"]) == 0
    assert [json.loads(line)["row"] for line in (out / REPRODUCE_FILE).read_text().splitlines()] == ["infonce", "au"]
    runs.clear()

    # one more seed: only it runs, for both rows; the tuning is not repeated
    _spec(tmp_path, tiny_bert, tiny_data_home, seeds=[1, 2, 3])
    assert main(argv) == 0
    assert sorted((name, seed) for name, _, seed in runs) == [("au", 3), ("infonce", 3)]
    assert "| au | 3 |" in (out / TABLE_FILE).read_text()

    # a changed shared key makes the old records stale: the table no longer counts them
    _spec(tmp_path, tiny_bert, tiny_data_home, set={"training.learning_rate": 2e-3}, trials=2)
    assert main([*argv, "--stage", "tune"]) == 0
    assert "| au | 0 |" in (out / TABLE_FILE).read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rowz": {}}, "did you mean 'rows'"),
        ({"reference": "kcl"}, "reference 'kcl' is not a row"),
        ({"seeds": [1, 1]}, "distinct whole numbers"),
        ({"trials": 0}, "trials is 0"),
        ({"rows": {"infonce": {"set": {"loss.name": "infonse"}}}}, "did you mean 'infonce'"),
        ({"rows": {"infonce": {"space": {"loss.temperature": {"type": "float", "low": 0.0, "high": 1.0}}}}},
         "temperature must be > 0"),
        ({"rows": {"infonce": {"sett": {}}}}, "did you mean 'set'"),
        ({"set": {"eval.final_suite": None}}, "test suite"),
        ({"mteb": {"taskz": ["x"]}}, "did you mean 'tasks'"),
        ({"mteb": {"tasks": []}}, "non-empty list"),
        ({"mteb": {"tasks": ["x"], "top": 0}}, "top must be a whole number >= 1"),
        ({"mteb": {"tasks": ["a,b"]}}, "distinct single names"),
    ],
)  # fmt: skip
def test_a_bad_spec_fails_before_any_training(change, message, tiny_bert, tiny_data_home, tmp_path):
    spec = _spec(tmp_path, tiny_bert, tiny_data_home, **change)
    with pytest.raises(FmiclError, match=message) as info:
        load_comparison(spec)
    assert str(spec) in (info.value.where or "")


def test_paired_test_claims_a_difference_only_beyond_the_seeds_noise():
    ref = {1: 70.0, 2: 72.0, 3: 71.0}
    consistent = {1: 71.0, 2: 73.1, 3: 71.9}  # +1 on every seed, small spread
    noisy = {1: 74.0, 2: 70.0, 3: 72.5}  # +1.17 on average, spread larger than the gain
    diff, p, pairs = paired_test(consistent, ref)
    assert pairs == 3 and diff == pytest.approx(1.0, abs=0.01) and p < 0.05
    assert verdict(diff, p, pairs) == "better, beyond noise"
    diff, p, pairs = paired_test(noisy, ref)
    assert p > 0.05 and verdict(diff, p, pairs) == "within noise"
    diff, p, pairs = paired_test({1: 69.0}, ref)
    assert (diff, p, pairs) == (-1.0, None, 1) and verdict(diff, p, pairs) == "1 seed: untested"
    diff, p, pairs = paired_test({1: 71.0, 2: 73.1}, ref)  # +1 on both seeds, but 2 are too few to test
    assert (p, pairs) == (None, 2) and verdict(diff, p, pairs) == "2 seeds: untested"
    assert paired_test({4: 80.0}, ref) == (None, None, 0)


def test_the_table_shows_means_spreads_and_the_difference_to_the_reference():
    def record(row, seed, avg):
        geometry = {"alignment": 0.2, "uniformity": -3.0, "erank": 100.0, "i_nce": 3.5}
        return {"row": row, "seed": seed, "params": {}, "test": {"sts12": avg - 1, AVG: avg}, "dev": 80.0,
                "diagnostics": geometry, "seconds": 60}  # fmt: skip

    records = [record("a", s, 70 + s) for s in (1, 2, 3)] + [record("b", s, 72 + s) for s in (1, 2, 3)]
    lines = comparison_lines(name="t", rows=["a", "b", "c"], reference="a", budget="budget", records=records,
                             tuning={"b": {"trials": 4, "best_dev": 81.234, "params": {"loss.tau": 0.05}}})  # fmt: skip
    text = "\n".join(lines)
    assert "| a | 3 | 71.00 ± 1.00 | 72.00 ± 1.00 | - | - | reference |" in text
    assert "| b | 3 | 73.00 ± 1.00 | 74.00 ± 1.00 | +2.00 | 0.000 | better, beyond noise |" in text
    assert "| c | 0 |" in text
    assert "| b | tau 0.05 | 4 | 81.23 | 80.00 ± 0.00 |" in text
    assert "untrained" not in text  # records without the base's scores: no base row
    assert "| 60 |" in text  # seconds a run

    resumed = [{**r, "seconds": 5, "resumed": True} if r["seed"] == 1 else r for r in records]
    text = "\n".join(comparison_lines(name="t", rows=["a"], reference="a", budget="b", tuning={}, records=resumed))
    assert "| 60 |" in text and "| 42 |" not in text  # a resumed run's last sitting is not a run's time
    only_resumed = [{**r, "resumed": True} for r in records if r["row"] == "a"]
    text = "\n".join(comparison_lines(name="t", rows=["a"], reference="a", budget="b", tuning={}, records=only_resumed))
    (line,) = [line for line in text.splitlines() if line.startswith("| a | (fixed) |")]
    assert line.endswith("| - |")  # no run ran whole: no time rather than a part of one

    base = {"model": "m", "dev": 79.5, "test": {"sts12": 68.5, AVG: 69.5}, "alignment": 0.1, "uniformity": -2.5}
    text = "\n".join(comparison_lines(name="t", rows=["a", "b"], reference="a", budget="budget", tuning={},
                                      records=[{**r, "base": base} for r in records]))  # fmt: skip
    assert f"| {BASE_ROW} | - | 68.50 | 69.50 | -2.50 | - | no training |" in text  # 69.5 - the reference's 72
    assert f"| {BASE_ROW} | (no training) | - | - | 79.50 | 0.100 | -2.500 | - | - | - |" in text
    other = [{**r, "base": {**base, "model": "n"}} if r["row"] == "b" else {**r, "base": base} for r in records]
    assert BASE_ROW not in "\n".join(
        comparison_lines(name="t", rows=["a", "b"], reference="a", budget="b", tuning={}, records=other)
    )  # two bases: no one base row


def test_the_mteb_section_ranks_the_rows_per_task_beside_the_test_average():
    def record(row, seed, avg):
        return {"row": row, "seed": seed, "test": {AVG: avg}}

    records = [record(row, s, avg + s) for row, avg in (("a", 70), ("b", 72), ("c", 60)) for s in (1, 2)]
    scores = [{"row": row, "task": task, "main_score": value, "metric": "ap", "type": "PairClassification"}
              for row, task, value in (("a", "t1", 0.8), ("b", "t1", 0.9), ("c", "t1", 0.5),
                                       ("a", "t2", 0.7), ("b", "t2", 0.6), ("c", "t2", 0.8))]  # fmt: skip
    text = "\n".join(mteb_lines(["a", "b", "c"], records, scores, ["t1", "t2"]))
    assert "| b | 73.50 (1) | 90.00 (1) | 60.00 (3) |" in text
    assert "| c | 61.50 (3) | 50.00 (3) | 80.00 (1) |" in text
    assert "| Kendall's tau with the test avg | | +1.00 | -1.00 |" in text
    assert "model of every row on MTEB tasks" in text
    top2 = "\n".join(mteb_lines(["a", "b", "c"], records, scores, ["t1", "t2"], top=2))
    assert "model of the 2 best rows by test average (and the reference) on MTEB tasks" in top2
    assert mteb_lines(["a"], records, [], ["t1"]) == []
    # the untrained base (row null) is one more ranked row, with its own test average
    based = [{**r, "base": {"model": "m", "test": {AVG: 65.0}}} for r in records]
    text = "\n".join(mteb_lines(["a", "b", "c"], based, [*scores, {**scores[0], "row": None, "main_score": 0.95}],
                                 ["t1", "t2"]))  # fmt: skip
    assert f"| {BASE_ROW} | 65.00 (3) | 95.00 (1) | - |" in text and "| b | 73.50 (1) | 90.00 (2) |" in text
    assert f"{BASE_ROW}: the model every run starts from" in text


def test_replace_section_keeps_the_rest_of_the_file(tmp_path):
    path = tmp_path / "r.md"
    path.write_text("# Mine\n\nmy notes\n")
    replace_section(path, "x", ["one"])
    replace_section(path, "y", ["two"])
    replace_section(path, "x", ["three"])
    text = path.read_text()
    assert text.startswith("# Mine\n\nmy notes\n") and "one" not in text
    assert text.index("three") < text.index("two")


def test_rows_are_picked_by_pattern(tiny_bert, tiny_data_home, tmp_path):
    from fmicl_text.training.compare import pick_rows

    comparison = load_comparison(_spec(tmp_path, tiny_bert, tiny_data_home))
    assert [row.name for row in pick_rows(comparison, None)] == ["infonce", "au"]
    assert [row.name for row in pick_rows(comparison, "a*")] == ["au"]
    assert [row.name for row in pick_rows(comparison, "au, info*")] == ["infonce", "au"]  # the spec's order
    with pytest.raises(FmiclError, match="no row matches 'kcl'"):
        pick_rows(comparison, "au,kcl")


def test_a_spec_extends_another_and_wins_key_by_key(tiny_bert, tiny_data_home, tmp_path):
    _spec(tmp_path, tiny_bert, tiny_data_home)
    child = tmp_path / "sub" / "child.yaml"
    child.parent.mkdir()
    child.write_text("extends: ../spec.yaml\nname: child\nset: {training.max_steps: 6}\nx-note: {a: 1}\n")
    comparison = load_comparison(child)
    assert comparison.name == "child" and [row.name for row in comparison.rows] == ["infonce", "au"]
    assert comparison.recipe.training.max_steps == 6  # the child's key
    assert comparison.recipe.training.learning_rate == 1e-3  # the parent's set, kept
    (tmp_path / "loop.yaml").write_text("extends: loop.yaml\nname: x\n")
    with pytest.raises(FmiclError, match="circle"):
        load_comparison(tmp_path / "loop.yaml")


def test_the_budget_says_per_row_where_rows_set_it_and_never_states_the_shared_value_instead(
    tiny_bert, tiny_data_home, tmp_path
):
    from fmicl_text.training.compare import describe_budget

    shared = describe_budget(load_comparison(_spec(tmp_path, tiny_bert, tiny_data_home)))
    assert "4 steps, batch 4, lr 0.001" in shared and "views dropout only" in shared and "per row" not in shared
    assert "Tuning: 2 trials for every row with a search space (1 of 2" in shared
    rows = {
        "infonce": {"set": {"loss.name": "infonce", "training.batch_size": 2, "training.max_steps": 8}},
        "au": {"set": {"loss.name": "au", "views.b": [{"name": "token_cutoff", "rate": 0.1}]}},
    }
    varied = describe_budget(load_comparison(_spec(tmp_path, tiny_bert, tiny_data_home, rows=rows, trials=0)))
    assert "steps per row, batch per row, lr 0.001" in varied and "views per row" in varied
    assert "batch 4" not in varied and "4 steps" not in varied and "its `set` in the spec" in varied
    assert "Nothing tuned" in varied and "Tuning:" not in varied


def test_the_shipped_specs_load():
    from pathlib import Path

    for spec in sorted((Path(__file__).parents[2] / "eval" / "compare").glob("*.yaml")):
        comparison = load_comparison(spec)
        assert comparison.reference in [row.name for row in comparison.rows]


def test_a_key_added_later_at_its_old_behaviour_keeps_old_records_valid(tiny_bert, tiny_data_home):
    import dataclasses

    from fmicl_text.training.records import recipe_key

    recipe = tiny_recipe("key", tiny_bert, tiny_data_home)
    assert "projection_layers" not in recipe_key(recipe)  # the default: the same key as before the option
    headed = dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, projection_layers=2))
    assert '"projection_layers": 2' in recipe_key(headed)
