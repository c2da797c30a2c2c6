"""The model card (``README.md``) of a saved run: what the model is, how it was trained, how it scores
next to its base, how to load it, and what to cite.

Written by us rather than by sentence-transformers' card generator, which knows neither the recipe nor
the test suite, and which (for unsupervised data, where anchor = positive) shows each example paired
with itself, a ``-1`` log row for the final evaluation, and a Hub id placeholder in the usage snippet.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from fmicl_text.layout import AVG

ST_CITATION = """@inproceedings{reimers-2019-sentence-bert,
    title = "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of the 2019 Conference on Empirical Methods in Natural Language Processing",
    year = "2019",
    url = "https://arxiv.org/abs/1908.10084",
}"""
# Three sentences for the usage snippet: two paraphrases and an unrelated one, so its printed
# similarities show what the model does (computed with the saved model when the card is written).
EXAMPLES = ("A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell sharply on Monday.")


def paper_title(citation: str) -> str | None:
    """The ``title`` field of a BibTeX entry, braces removed."""
    m = re.search(r"title\s*=\s*[{\"](.+?)[}\"],?\s*\n", citation)
    return m and m[1].replace("{", "").replace("}", "")


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def scores_table(results: dict[str, Any]) -> list[str]:
    """The test scores (Spearman x100) of this model, and of its base when known, as a markdown table."""
    test = results.get("test")
    if not test:
        return []
    keys = list(test["scores"])
    rows = [("this model", test["scores"])]
    base = (results.get("base") or {}).get("test")
    if base:
        rows.append((f"base (`{results['base_model']}`)", base["scores"]))
    lines = ["| model | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    lines += [f"| {name} | " + " | ".join(_fmt(scores.get(k)) for k in keys) + " |" for name, scores in rows]
    return lines


def log_table(log_history: list[dict[str, Any]], dev_key: str | None, best_step: int | None) -> list[str]:
    """One row per dev evaluation: step, the mean training loss logged since the previous evaluation (blank
    when none was), the dev score; the kept checkpoint in bold."""
    if not dev_key:
        return []
    lines = ["| step | training loss | dev |", "|---:|---:|---:|"]
    losses: list[float] = []
    for row in log_history:
        if "loss" in row:
            losses.append(row["loss"])
        if dev_key in row:
            loss = f"{sum(losses) / len(losses):.4g}" if losses else ""
            cells = [str(row["step"]), loss, _fmt(row[dev_key])]
            if row["step"] == best_step:
                cells = [f"**{c}**" if c else c for c in cells]
            lines.append("| " + " | ".join(cells) + " |")
            losses = []
    return lines if len(lines) > 2 else []


def _similarity_lines(similarities: list[list[float]]) -> list[str]:
    """The printed form of ``model.similarity``'s tensor, as comment lines."""
    rows = ["[" + ", ".join(f"{v:.4f}" for v in row) + "]" for row in similarities]
    return [("# tensor([" if i == 0 else "#         ") + row + ("])" if i == len(rows) - 1 else ",")
            for i, row in enumerate(rows)]  # fmt: skip


def _front_matter(recipe, results: dict[str, Any], loss_class: str) -> str:
    meta: dict[str, Any] = {
        "library_name": "sentence-transformers",
        "pipeline_tag": "sentence-similarity",
        "tags": [
            "sentence-transformers",
            "sentence-similarity",
            "feature-extraction",
            "fmicl-text",
            f"loss:{loss_class}",
        ],
    }
    base = results["base_model"]
    if not Path(base).exists() and not base.startswith("base:"):  # a Hub name
        meta["base_model"] = base
    test = results.get("test")
    if test:
        meta["model-index"] = [
            {
                "name": recipe.name,
                "results": [
                    {
                        "task": {"type": "semantic-similarity", "name": "Semantic Similarity"},
                        "dataset": {"name": key, "type": key, "split": "test"},
                        "metrics": [
                            {"type": "spearman_cosine", "value": round(value / 100, 4), "name": "Spearman (cosine)"}
                        ],
                    }
                    for key, value in test["scores"].items()
                    if key != AVG and value is not None
                ],
            }
        ]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n"


def _views(described: str) -> str:
    if described == "a=none; b=none":
        return "dropout only (SimCSE): both views are the sentence itself, made different by the encoder's dropout"
    return f"`{described}` (then the encoder's dropout)"


def _processes(n: int) -> str:
    return "1 process" if n == 1 else f"{n} processes"


def model_card(
    *,
    recipe,
    results: dict[str, Any],
    log_history: list[dict[str, Any]],
    dev_key: str | None,
    loss_class: str,
    citation: str,
    dimension: int,
    folder: str,
    similarities: list[list[float]],
) -> str:
    """The whole card, from the run's results (``eval_results.json``) and training log."""
    loss = dict(results["loss"])
    name = loss.pop("name")
    params = ", ".join(f"`{k}={v}`" for k, v in loss.items()) or "its defaults"
    title = paper_title(citation)
    dev = results["dev"]
    t = recipe.training
    minutes = results["seconds"] / 60
    resumed = f", resumed from step {results['resumed_from_step']}" if results.get("resumed_from_step") else ""
    lines = [
        _front_matter(recipe, results, loss_class),
        f"# {recipe.name}",
        "",
        *([recipe.description.strip(), ""] if recipe.description.strip() else []),
        f"A sentence encoder trained with fmicl-text from `{results['base_model']}`: "
        f"it maps a sentence to a {dimension}-dimensional vector, and the cosine of two vectors says how "
        f"similar the sentences are. Objective: `{name}` ({loss_class}" + (f", from *{title}*" if title else "") + ").",
        "",
        "## Usage",
        "",
        "```python",
        "from sentence_transformers import SentenceTransformer",
        "",
        f'model = SentenceTransformer("{folder}")  # this folder',
        f"sentences = {list(EXAMPLES)!r}",
        "embeddings = model.encode(sentences)",
        "print(model.similarity(embeddings, embeddings))",
        *_similarity_lines(similarities),
        "```",
        "",
    ]
    table = scores_table(results)
    if table:
        test = results["test"]
        lines += [
            "## Results",
            "",
            f"Test sets ({test['suite']}, {test['text']} text), Spearman correlation x100 of cosine similarity"
            + (
                " against the human scores; the base row is the untrained model, scored the same way:"
                if len(table) > 3
                else ":"
            ),
            "",
            *table,
            "",
        ]
    if dev.get("suite"):
        base_dev = (results.get("base") or {}).get("dev")
        lines += [
            f"The kept checkpoint is the best on {dev['suite']} (dev, never test): {_fmt(dev['best'])} "
            f"at step {dev['best_step']}" + (f" (the base model: {_fmt(base_dev)})." if base_dev is not None else "."),
            "",
        ]
    lines += [
        "## Training",
        "",
        f"- objective: `{name}` with {params}",
        f"- views: {_views(results['views'])}",
        *(
            [f"- MLM term: weight {results['mlm']['weight']}, probability {results['mlm']['probability']}"]
            if results.get("mlm")
            else []
        ),  # fmt: skip
        f"- data: {results['data']}",
        f"- steps: {results['steps']}, batch {t.batch_size}, learning rate {t.learning_rate:g}, warm-up ratio "
        f"{t.warmup_ratio:g}, weight decay {t.weight_decay:g}, max length {recipe.data.max_seq_length}, "
        f"precision {results.get('precision', t.precision)}, seed {t.seed}",
        f"- hardware and time: {_processes(results['world_size'])} on {results.get('hardware') or results['device']}, "
        f"{minutes:.1f} min{resumed} (torch {results['torch']})",
    ]
    if results.get("skipped_steps"):
        lines.append(f"- updates skipped for non-finite values: {results['skipped_steps']} (`on_nonfinite: skip`)")
    log = log_table(log_history, dev_key, dev.get("best_step"))
    if log:
        lines += ["", "Dev evaluations (the kept checkpoint in bold):", "", *log]
    lines += [
        "",
        "The recipe as run (`fmicl-text train fmicl_recipe.yaml --output-dir DIR` runs it again):",
        "",
        "```yaml",
        yaml.safe_dump(recipe.to_dict(), sort_keys=False).rstrip(),
        "```",
        "",
        "## Citation",
        "",
        "```bibtex",
        citation.strip(),
        "",
        ST_CITATION,
        "```",
        "",
    ]
    return "\n".join(lines)
