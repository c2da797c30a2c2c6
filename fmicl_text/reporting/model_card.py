"""The fmicl-text section of a saved model's card.

sentence-transformers writes the card (base model, loss config and citation, hyperparameters,
training logs); this appends what it cannot know: the recipe as run, the data summary, the best
dev step and the SentEval-style test table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SECTION_TITLE = "## fmicl-text run"


def run_section(*, recipe, results: dict[str, Any], test=None) -> str:
    from fmicl_text.evaluation.sts import format_table

    loss = dict(results["loss"])
    name = loss.pop("name")
    params = ", ".join(f"{k}={v}" for k, v in loss.items()) or "defaults"
    dev = results["dev"]
    lines = [
        SECTION_TITLE,
        "",
        f"- base model: `{results['base_model']}` (pooling `{recipe.model.pooling}`)",
        f"- loss: `{name}` ({params})",
        f"- data: {results['data']}",
        f"- steps: {results['steps']} (batch size {recipe.training.batch_size}, "
        f"learning rate {recipe.training.learning_rate}, max length {recipe.data.max_seq_length})",
    ]
    if results.get("skipped_steps"):
        lines.append(f"- updates skipped for non-finite values: {results['skipped_steps']} (`on_nonfinite: skip`)")
    if dev.get("suite"):
        best = "n/a" if dev["best"] is None else f"{dev['best']:.2f}"
        lines.append(f"- best {dev['suite']} Spearman x100: {best} at step {dev['best_step']} (checkpoint kept)")
    if test is not None:
        lines += [
            "",
            f"Test ({test.suite}, {test.text} text, Spearman x100 of cosine similarity):",
            "",
            format_table(test),
        ]
    lines += [
        "",
        "Recipe as run:",
        "",
        "```yaml",
        yaml.safe_dump(recipe.to_dict(), sort_keys=False).rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def write_run_section(readme: Path, *, recipe, results: dict[str, Any], test=None) -> None:
    """Append (or replace) the run section of the model card."""
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    head = text.split(SECTION_TITLE)[0].rstrip()
    readme.write_text(f"{head}\n\n{run_section(recipe=recipe, results=results, test=test)}", encoding="utf-8")
