"""Bases: encoders we pre-train ourselves (MLM), measured by how much SimCSE can still lift them.

``fmicl-text base build RECIPE`` trains an MLM recipe into ``bases_home()/NAME`` in stages: every
``probe_every`` steps it pauses with a checkpoint, scores the checkpoint on STS-B dev (mean and CLS
pooling) and runs a short unsupervised SimCSE **probe** on it (InfoNCE, dropout views), writing a
row to ``probes.jsonl``; then it resumes (exactly: ``train(pause_after=...)`` + ``resume``). A stop
at any point loses at most one stage. When the MLM run finishes, the **gate** runs: the same
SimCSE with the gate's budget, at each of ``GATE_LEARNING_RATES`` (the better on STS-B dev counts:
SimCSE too chose its learning rate on dev); a base is fit for comparing losses if it lifts STS-B dev
by at least ``GATE_LIFT`` points. Dev sets only: the test sets play no part in building a base.

Each probe also records the base's alignment and uniformity on STS-B dev: what SimCSE can fix is
mostly uniformity (a raw BERT's embeddings crowd into a narrow cone); a base already uniform leaves
it little to gain. The table and curve are drawn by :mod:`fmicl_text.reporting.bases`.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fmicl_text.errors import FmiclError, RunInterrupted
from fmicl_text.layout import I_NCE_TEMPERATURE, STSB_DEV
from fmicl_text.training.records import append_record, read_records

PROBES_FILE = "probes.jsonl"
SITTINGS_FILE = "sittings.jsonl"  # one line per pre-training sitting: its steps and seconds (the build time)
GATE_FILE = "gate.json"
GATE_LIFT = 5.0  # STS-B dev points SimCSE must add for a base to tell losses apart


@dataclass(frozen=True)
class ProbeBudget:
    """The SimCSE run of a probe or of the gate: InfoNCE, dropout views, mean pooling, STS-B dev after."""

    steps: int = 1000
    batch_size: int = 64
    learning_rate: float = 1e-4
    train: str = "wiki"  # not the MLM corpus: the probe's sentences are new to the base
    max_seq_length: int = 32
    seed: int = 42

    def describe(self) -> str:
        return (
            f"InfoNCE (temperature {I_NCE_TEMPERATURE:g}), dropout views, mean pooling, {self.steps} steps, "
            f"batch {self.batch_size}, "
            f"lr {self.learning_rate:g}, length {self.max_seq_length}, data {self.train}, seed {self.seed}"
        )


PROBE = ProbeBudget(steps=250)  # along the pre-training: short, to be repeated every few thousand MLM steps
GATE = ProbeBudget()  # once, at the end: the budget the gate states
GATE_LEARNING_RATES = (3e-5, 1e-4)  # the gate runs at each; SimCSE's BERT rate and PROBE's


def dev_scores(path: str | Path, data_dir: str | None) -> dict[str, float]:
    """STS-B dev (Spearman x100) of an encoder with mean and with CLS pooling, and its alignment and
    uniformity (mean pooling) on the STS-B dev sentences."""
    from fmicl_text.evaluation.base_scores import base_model_geometry
    from fmicl_text.evaluation.diagnostics import load_diagnostics_data
    from fmicl_text.evaluation.sts import evaluate_sts
    from fmicl_text.modeling import ModelConfig, build_model

    out = {}
    for pooling, key in (("mean", "stsb_dev_mean"), ("cls_before_pooler", "stsb_dev_cls")):
        model = build_model(ModelConfig(str(path), pooling=pooling))
        out[key] = evaluate_sts(model, suite="stsb-dev", data_dir=data_dir, show_progress=False).scores[STSB_DEV]
        if pooling == "mean":
            data = load_diagnostics_data(data_dir=data_dir)
            geometry = base_model_geometry(model, data, batch_size=128, name=str(path))
            out |= {key: geometry[key] for key in ("alignment", "uniformity")}
    return out


def simcse_lift(path: str | Path, budget: ProbeBudget, data_dir: str | None) -> dict[str, Any]:
    """STS-B dev (mean pooling) before and after ``budget`` of unsupervised SimCSE on the encoder at ``path``."""
    from fmicl_text.recipe import Recipe, apply_overrides
    from fmicl_text.training.trainer import train

    before = dev_scores(path, data_dir)
    start = time.time()
    with tempfile.TemporaryDirectory() as out:
        recipe = apply_overrides(
            Recipe(name="simcse-probe"),
            {
                "model.name_or_path": str(path),
                "model.pooling": "mean",
                "data.train": budget.train,
                "data.data_dir": data_dir,
                "data.max_seq_length": budget.max_seq_length,
                "training.output_dir": str(Path(out) / "run"),
                "training.max_steps": budget.steps,
                "training.batch_size": budget.batch_size,
                "training.learning_rate": budget.learning_rate,
                "training.seed": budget.seed,
                "training.logging_steps": max(1, budget.steps // 10),
                "eval.eval_steps": budget.steps,  # one dev score, at the end
                "eval.final_suite": None,
                "eval.diagnostics": False,
            },
        )
        after = train(recipe).best_dev
    return {
        **before,
        "after": after,
        "lift": after - before["stsb_dev_mean"],
        "probe_seconds": round(time.time() - start, 1),
    }


def probes_file(folder: Path) -> Path:
    """The probes of the base built in ``folder``: beside it (``NAME.probes.jsonl``), so --overwrite keeps them."""
    return folder.parent / f"{folder.name}.{PROBES_FILE}"


def sittings_file(folder: Path) -> Path:
    """The pre-training sittings of the base built in ``folder``, beside it as its probes are."""
    return folder.parent / f"{folder.name}.{SITTINGS_FILE}"


def in_bases_home(recipe):
    """``recipe`` building into the bases home: ``recipes/base-NAME.yaml`` builds ``base:NAME``."""
    from dataclasses import replace

    from fmicl_text.data.home import bases_home

    name = recipe.name.removeprefix("base-")
    return replace(recipe, training=replace(recipe.training, output_dir=str(bases_home() / name)))


def build_base(
    recipe,
    *,
    probe_every: int,
    probe: ProbeBudget,
    gate: ProbeBudget,
    gate_learning_rates: Sequence[float] = GATE_LEARNING_RATES,
    log=print,
    after_probe=None,
) -> dict[str, Any]:
    """Pre-train ``recipe`` (resumable), probing every ``probe_every`` steps, then run the gate (``gate``'s
    budget at each of ``gate_learning_rates``; the best STS-B dev after it decides).

    ``after_probe()`` runs after each probe row is written (e.g. to redraw the report as the curve grows).
    """
    from fmicl_text.training.run_folder import RunFolder, step_of
    from fmicl_text.training.trainer import train

    if recipe.mlm.weight <= 0 or not recipe.mlm.save_head:
        raise FmiclError(
            "a base recipe pre-trains with MLM and keeps its head", fix="set mlm.weight > 0, mlm.save_head: true"
        )
    if recipe.training.max_steps <= 0:
        raise FmiclError("a base recipe needs training.max_steps (its whole budget)", fix="e.g. --max-steps 40000")
    if recipe.training.overwrite:
        raise FmiclError(
            "base build resumes a base's unfinished build and keeps a finished one",
            fix=f"to rebuild, delete {recipe.training.output_dir} (and its {PROBES_FILE}) first",
        )
    folder = RunFolder(Path(recipe.training.output_dir))
    probes_path = probes_file(folder.path)
    done = {row["step"] for row in read_records(probes_path)}
    data_dir = recipe.data.data_dir
    start = time.time()

    def record(step: int, path: Path, mlm_loss: float | None) -> None:
        log(f"probe at MLM step {step}: {path}")
        row = {"step": step, "mlm_loss": mlm_loss, **simcse_lift(path, probe, data_dir)}
        append_record(probes_path, row)
        done.add(step)
        if after_probe is not None:
            after_probe()
        log(f"  STS-B dev {row['stsb_dev_mean']:.2f} (cls {row['stsb_dev_cls']:.2f}) -> {row['after']:.2f} "
            f"after SimCSE: lift {row['lift']:+.2f}")  # fmt: skip

    state = folder.run_state()
    finished = bool(state and state.get("finished"))
    while not finished:
        state = folder.run_state()
        last = folder.last_checkpoint()
        step = step_of(last) or 0
        if last is not None and step not in done and step % probe_every == 0:
            record(step, last, _mlm_loss_at(last, step))
            continue
        if step == 0 and 0 not in done:  # the random init itself: the curve's first point
            import transformers

            from fmicl_text.modeling import build_model

            probes_path.parent.mkdir(parents=True, exist_ok=True)
            transformers.set_seed(recipe.training.seed)  # the run's own initial weights
            with tempfile.TemporaryDirectory() as init:
                build_model(recipe.model).save(init)
                record(0, Path(init), None)
            continue
        target = (step // probe_every + 1) * probe_every
        resume = "latest" if state is not None and not state.get("finished") else None
        began = time.time()
        try:
            result = train(recipe, resume=resume, pause_after=target if target < recipe.training.max_steps else None)
        except RunInterrupted:  # a stopped sitting counts too: up to the checkpoint it wrote
            reached = step_of(folder.last_checkpoint()) or step
            append_record(sittings_file(folder.path), {"from_step": step, "to_step": reached,
                                                        "seconds": round(time.time() - began, 1)})  # fmt: skip
            raise
        append_record(sittings_file(folder.path), {"from_step": step, "to_step": result.steps,
                                                    "seconds": round(result.seconds, 1)})  # fmt: skip
        finished = result.finished
    total = recipe.training.max_steps
    if total not in done:
        record(total, folder.path, _mlm_loss_at(folder.path, total))
    gate_path = folder.path / GATE_FILE
    if gate_path.is_file():
        verdict = json.loads(gate_path.read_text(encoding="utf-8"))
    else:
        tries = []
        for rate in gate_learning_rates:
            budget = replace(gate, learning_rate=rate)
            log(f"gate: {budget.describe()}")
            tries.append({**simcse_lift(folder.path, budget, data_dir), "budget": budget.describe(),
                          "learning_rate": rate})  # fmt: skip
        verdict = {**max(tries, key=lambda t: t["after"]), "needed": GATE_LIFT}
        verdict["tried"] = [{k: t[k] for k in ("learning_rate", "after", "lift")} for t in tries]
        verdict["passed"] = verdict["lift"] >= GATE_LIFT
        gate_path.write_text(json.dumps(verdict, indent=2), encoding="utf-8")
    log(f"gate: STS-B dev {verdict['stsb_dev_mean']:.2f} -> {verdict['after']:.2f}, lift {verdict['lift']:+.2f}: "
        f"{'passed' if verdict['passed'] else 'failed'} (needs +{GATE_LIFT:g})")  # fmt: skip
    verdict["this_sitting_seconds"] = round(time.time() - start, 1)
    return verdict


def _mlm_loss_at(folder: Path, step: int) -> float | None:
    """The MLM loss logged nearest before ``step`` (the checkpoint's trainer state, else the final log)."""
    from fmicl_text.layout import LOG_FILE

    for candidate in (folder / "trainer_state.json", folder / LOG_FILE):
        if candidate.is_file():
            rows = json.loads(candidate.read_text(encoding="utf-8"))
            rows = rows.get("log_history", []) if isinstance(rows, dict) else rows
            losses = [row["mlm"] for row in rows if "mlm" in row and row.get("step", 0) <= step]
            if losses:
                return losses[-1]
    return None


# --------------------------------------------------------------------------- what the report reads


def base_info(recipe, probe: ProbeBudget) -> dict[str, Any]:
    """What :func:`report_lines` shows of the base ``recipe`` builds: its probes so far and, once built, its gate."""
    out = Path(recipe.training.output_dir)
    probes = read_records(probes_file(out))
    gate_file = out / GATE_FILE
    return {
        "about": recipe.description,
        "gate": json.loads(gate_file.read_text(encoding="utf-8")) if gate_file.is_file() else None,
        "probes": probes,
        "sittings": read_records(sittings_file(out)),
        "probe_budget": probe.describe(),
        "status": None
        if gate_file.is_file()
        else f"building: {max((r['step'] for r in probes), default=0)} of {recipe.training.max_steps} MLM steps "
        "probed so far",
    }
