"""``fmicl-text report``: the markdown table from run folders and plain result JSONs, the two PNG
plots from training logs, notes for what is missing, and clear errors for bad inputs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from fmicl_text.cli.report import add_report_arguments, run_report
from fmicl_text.errors import FmiclError
from fmicl_text.reporting.plots import au_points, metric_series
from fmicl_text.reporting.report import build_report, load_run
from fmicl_text.reporting.tables import markdown_table, task_columns

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TASKS = ("sts12", "sts13", "sts14", "sts15", "sts16", "stsb", "sickr")


def log_rows(dev: list[float], diag: bool, every: int = 50) -> list[dict]:
    """A trainer log_history: loss rows, eval rows (with diag_* when asked) and the final summary row."""
    rows = []
    for k, score in enumerate(dev, start=1):
        step = k * every
        rows.append({"loss": 1.0 / k, "grad_norm": 0.5, "learning_rate": 3e-5, "epoch": 0.01 * k, "step": step - 1})
        row = {"eval_sts_stsb_dev": score, "eval_sts_avg": score, "eval_runtime": 1.0, "epoch": 0.01 * k, "step": step}
        if diag:
            row |= {
                "eval_diag_alignment": 0.2 + 0.02 * k,
                "eval_diag_uniformity": -2.0 - 0.1 * k,
                "eval_diag_erank": 100.0 + k,
                "eval_diag_i_nce": 4.0,
            }
        rows.append(row)
    rows.append({"train_runtime": 10.0, "train_loss": 0.5, "epoch": 0.05, "step": len(dev) * every})
    return rows


def make_run(folder: Path, scores: dict | None, dev: list[float], diag: bool = True, best_step: int = 100) -> Path:
    folder.mkdir(parents=True)
    results = {
        "recipe": folder.name,
        "base_model": "bert-base-uncased",
        "loss": {"name": "infonce", "temperature": 0.05},
        "data": "wiki",
        "steps": 50 * len(dev),
        "dev": {"suite": "stsb-dev", "best": max(dev), "best_step": best_step},
    }
    if scores is not None:
        results["test"] = {"scores": scores, "suite": "senteval7", "text": "senteval"}
    (folder / "eval_results.json").write_text(json.dumps(results), encoding="utf-8")
    (folder / "training_log.json").write_text(json.dumps(log_rows(dev, diag)), encoding="utf-8")
    (folder / "checkpoints" / "checkpoint-100").mkdir(parents=True)
    return folder


def full_scores(base: float) -> dict:
    scores = {task: base + i for i, task in enumerate(TASKS)}
    scores["avg"] = sum(scores.values()) / len(TASKS)
    return scores


def check_png(path: Path) -> None:
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 10_000  # axes, lines, labels: not an empty canvas
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 500


def table_rows(markdown: str) -> dict[str, list[str]]:
    """The table of report.md as {first cell: cells}, header row under 'run'."""
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            rows[cells[0]] = cells[1:]
    return rows


def test_report_of_two_runs(tmp_path, capsys):
    a = make_run(tmp_path / "runs" / "simcse", full_scores(70.0), [80.0, 82.5, 81.0])
    b_scores = {key: value for key, value in full_scores(60.0).items() if key != "sickr"}  # sickr missing
    b_scores["sts16"] = None  # undefined (collapsed)
    b = make_run(tmp_path / "runs" / "fmicl-js", b_scores, [70.0, 75.25], best_step=100)
    out = tmp_path / "report"

    parser = add_report_arguments(argparse.ArgumentParser())
    assert run_report(parser.parse_args([str(a), str(b), "--output-dir", str(out)])) == 0
    printed = capsys.readouterr().out
    assert "| simcse |" in printed and f"wrote {out / 'report.md'}" in printed

    markdown = (out / "report.md").read_text(encoding="utf-8")
    rows = table_rows(markdown)
    assert rows["run"] == [*TASKS, "avg", "stsb-dev (best)"]
    assert rows["simcse"] == ["70.00", "71.00", "72.00", "73.00", "74.00", "75.00", "76.00", "73.00", "82.50"]
    assert rows["fmicl-js"] == ["60.00", "61.00", "62.00", "63.00", "n/a", "65.00", "", "63.00", "75.25"]
    assert "|---|---:|" in markdown
    assert "![" in markdown and "(stsb_dev.png)" in markdown and "(align_uniform.png)" in markdown
    check_png(out / "stsb_dev.png")
    check_png(out / "align_uniform.png")


def test_run_without_diagnostics_is_left_out_of_the_plane_with_a_note(tmp_path):
    a = make_run(tmp_path / "with-diag", full_scores(70.0), [80.0, 81.0])
    b = make_run(tmp_path / "no-diag", full_scores(71.0), [79.0, 80.0], diag=False)
    report = build_report([a, b], tmp_path / "out")
    assert any(note.startswith("no-diag: no eval_diag_alignment") for note in report.notes)
    assert "## Notes" in report.markdown and "no-diag: no eval_diag_alignment" in report.markdown
    check_png(tmp_path / "out" / "align_uniform.png")
    check_png(tmp_path / "out" / "stsb_dev.png")


def test_plain_eval_sts_json_and_no_plots(tmp_path):
    # The JSON of `fmicl-text eval sts --output`: scores only, no training log.
    plain = tmp_path / "minilm.json"
    plain.write_text(json.dumps({"scores": full_scores(75.0), "model": "all-MiniLM-L6-v2", "suite": "senteval7"}))
    out = tmp_path / "out"
    report = build_report([plain], out)
    rows = table_rows(report.markdown)
    assert rows["run"] == [*TASKS, "avg"]  # no dev column without a training run
    assert rows["minilm"][0] == "75.00"
    assert not (out / "stsb_dev.png").exists() and not (out / "align_uniform.png").exists()
    assert any("stsb_dev.png not written" in note for note in report.notes)
    assert report.files == [out / "report.md"]
    assert sorted(p.name for p in out.iterdir()) == ["fmicl_report.json", "report.md"]  # no staging left


def test_a_stale_plot_of_an_earlier_report_is_removed(tmp_path):
    """The plots of an earlier report in the same folder are ours (the manifest says so): a report without
    their data removes them, so the folder never shows a plot of other runs beside the new table."""
    run = make_run(tmp_path / "run", full_scores(70.0), [80.0, 82.0])
    out = tmp_path / "out"
    first = build_report([run], out)
    assert [p.name for p in first.files] == ["report.md", "stsb_dev.png", "align_uniform.png"]
    manifest = json.loads((out / "fmicl_report.json").read_text())
    assert set(manifest["files"]) == {"report.md", "stsb_dev.png", "align_uniform.png"}
    plain = tmp_path / "minilm.json"
    plain.write_text(json.dumps({"scores": full_scores(75.0)}))
    second = build_report([plain], out)
    assert second.files == [out / "report.md"]
    assert not (out / "stsb_dev.png").exists() and not (out / "align_uniform.png").exists()
    assert set(json.loads((out / "fmicl_report.json").read_text())["files"]) == {"report.md"}
    assert "minilm" in (out / "report.md").read_text()


@pytest.mark.parametrize("name", ["stsb_dev.png", "report.md", "fmicl_report.json"])
def test_a_users_file_of_a_report_name_is_kept_and_the_report_refused(tmp_path, name):
    """A file the report did not write (no manifest entry, or edited since) is never deleted or replaced:
    one error naming it, and nothing written."""
    plain = tmp_path / "minilm.json"
    plain.write_text(json.dumps({"scores": full_scores(75.0)}))
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_bytes(b"the user's own file")
    with pytest.raises(FmiclError, match=f"holds {name}, not written by fmicl-text report") as err:
        build_report([plain], out)
    assert str(out) in str(err.value) and "another --output-dir" in str(err.value)
    assert (out / name).read_bytes() == b"the user's own file"
    assert sorted(p.name for p in out.iterdir()) == [name]  # nothing written, no staging left


def test_a_report_file_edited_since_is_not_replaced(tmp_path):
    plain = tmp_path / "minilm.json"
    plain.write_text(json.dumps({"scores": full_scores(75.0)}))
    out = tmp_path / "out"
    build_report([plain], out)
    (out / "report.md").write_text("my notes on the table", encoding="utf-8")
    with pytest.raises(FmiclError, match=r"holds report.md, not written by fmicl-text report \(or changed since\)"):
        build_report([plain], out)
    assert (out / "report.md").read_text(encoding="utf-8") == "my notes on the table"
    (out / "report.md").unlink()  # the fix: move it away; then the report writes again
    assert build_report([plain], out).files == [out / "report.md"]


def test_same_names_get_their_paths_and_results_file_accepted(tmp_path):
    a = make_run(tmp_path / "x" / "run", full_scores(70.0), [80.0])
    b = make_run(tmp_path / "y" / "run", full_scores(71.0), [81.0])
    report = build_report([a, b / "eval_results.json"], tmp_path / "out")
    rows = table_rows(report.markdown)
    assert str(a) in rows and str(b / "eval_results.json") in rows
    assert load_run(b / "eval_results.json").log is not None  # the log next to the results file is found


def test_run_without_final_eval_has_blank_tasks(tmp_path):
    a = make_run(tmp_path / "dev-only", None, [80.0, 85.0])
    b = make_run(tmp_path / "full", full_scores(70.0), [80.0])
    rows = table_rows(build_report([a, b], tmp_path / "out").markdown)
    assert rows["dev-only"] == [""] * 8 + ["85.00"]


def test_folder_without_results_is_a_clear_error(tmp_path):
    empty = tmp_path / "not-a-run"
    (empty / "checkpoints").mkdir(parents=True)
    with pytest.raises(FmiclError, match="no eval_results.json") as err:
        build_report([empty], tmp_path / "out")
    assert str(empty) in str(err.value)
    assert not (tmp_path / "out").exists()  # nothing written when an input is bad
    with pytest.raises(FmiclError, match="no such run"):
        load_run(tmp_path / "missing")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(FmiclError, match="not valid JSON"):
        load_run(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    with pytest.raises(FmiclError, match="not a results file"):
        load_run(other)


def test_table_and_series_helpers():
    assert task_columns([{"avg": 1.0, "sickr": 1.0, "custom": 2.0}, {"sts12": 3.0}]) == [
        "sts12",
        "sickr",
        "custom",
        "avg",
    ]
    table = markdown_table([("a|b", {"sts12": 1.234})], ["sts12", "avg"])
    assert table.splitlines()[2] == "| a\\|b | 1.23 |  |"
    log = [
        {"eval_sts_stsb_dev": 1.0, "step": 10},
        {"eval_sts_stsb_dev": 2.0, "step": 5},
        {"eval_sts_stsb_dev": 3.0, "step": 10},  # the same step evaluated twice: the last value
        {"eval_sts_stsb_dev": float("nan"), "step": 15},
        {"eval_diag_alignment": 0.3, "eval_diag_uniformity": -2.0, "step": 5},
        {"eval_diag_alignment": 0.4, "step": 10},
    ]
    assert metric_series(log, "eval_sts_stsb_dev") == [(5, 2.0), (10, 3.0)]
    assert au_points(log) == [(5, 0.3, -2.0)]


def test_the_base_model_is_a_reference_row_a_dashed_line_and_a_cross(tmp_path, monkeypatch):
    """Runs that recorded their base model's scores: the base once in the table, a dashed line on the dev plot,
    and (with its alignment and uniformity) a labelled cross on the alignment-uniformity plot."""
    from matplotlib.lines import Line2D

    from fmicl_text.reporting import plots

    figures = {}
    real_save = plots.save_figure

    def keep(fig, path):
        figures[Path(path).name] = fig
        return real_save(fig, path)

    monkeypatch.setattr(plots, "save_figure", keep)
    runs = []
    for name, offset in (("a", 70.0), ("b", 72.0)):
        folder = make_run(tmp_path / name, full_scores(offset), [80.0, 82.0])
        results = json.loads((folder / "eval_results.json").read_text())
        results["base"] = {
            "model": "bert-base-uncased",
            "dev": 60.5,
            "test": {"scores": full_scores(50.0)},
            "alignment": 0.45,
            "uniformity": -1.25,
        }
        (folder / "eval_results.json").write_text(json.dumps(results))
        runs.append(folder)
    report = build_report(runs, tmp_path / "out")
    base_rows = [line for line in report.table.splitlines() if line.startswith("| base: bert-base-uncased")]
    assert len(base_rows) == 1 and "| 50.00 |" in base_rows[0] and base_rows[0].rstrip(" |").endswith("60.50")
    check_png(tmp_path / "out" / "stsb_dev.png")
    check_png(tmp_path / "out" / "align_uniform.png")

    (dev_ax,) = figures["stsb_dev.png"].axes
    dashed = [line for line in dev_ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and list(dashed[0].get_ydata()) == [60.5, 60.5]
    assert dashed[0].get_label() == "base: bert-base-uncased"
    assert "base: bert-base-uncased" in [text.get_text() for text in dev_ax.get_legend().get_texts()]

    (au_ax,) = figures["align_uniform.png"].axes
    crosses = [line for line in au_ax.get_lines() if isinstance(line, Line2D) and line.get_marker() == "X"]
    assert len(crosses) == 1  # the base once, though both runs recorded it
    assert (list(crosses[0].get_xdata()), list(crosses[0].get_ydata())) == ([-1.25], [0.45])
    assert crosses[0].get_label() == "base: bert-base-uncased"
    assert "base: bert-base-uncased" in [text.get_text() for text in au_ax.get_legend().get_texts()]
    left, right = au_ax.get_xlim()
    bottom, top = au_ax.get_ylim()
    assert left < -1.25 < right and bottom < 0.45 < top  # inside the axes, not on their edge
    assert "X: base model" in au_ax.get_title()


def test_no_base_cross_without_its_alignment_and_uniformity(tmp_path):
    from fmicl_text.reporting.plots import alignment_uniformity_figure

    run = make_run(tmp_path / "a", full_scores(70.0), [80.0, 82.0])
    (ax,) = alignment_uniformity_figure({"a": au_points(load_run(run).log)}).axes
    assert not [line for line in ax.get_lines() if line.get_marker() == "X"] and "X:" not in ax.get_title()


def test_a_base_measured_differently_by_two_runs_is_shown_for_each(tmp_path):
    """Two runs from the same base name with another pooling: each its own base row and reference, named for
    its run, not one of them hidden behind the other."""
    runs = []
    for name, base_dev, au in (
        ("cls", 44.0, (0.01, -0.02)),
        ("mean", 50.0, (0.04, -0.24)),
        ("mean2", 50.0, (0.04, -0.24)),
    ):
        folder = make_run(tmp_path / name, full_scores(70.0), [80.0, 82.0])
        results = json.loads((folder / "eval_results.json").read_text())
        results["base"] = {"model": "tiny", "dev": base_dev, "alignment": au[0], "uniformity": au[1]}
        (folder / "eval_results.json").write_text(json.dumps(results))
        runs.append(folder)
    rows = table_rows(build_report(runs, tmp_path / "out").markdown)
    assert rows["base: tiny (for cls)"][-1] == "44.00" and rows["base: tiny (for mean, mean2)"][-1] == "50.00"
    assert "base: tiny" not in rows
