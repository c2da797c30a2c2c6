"""The model card's parts on a made-up run: fast, no model, no training."""

from __future__ import annotations

import yaml

from fmicl_text.recipe import Recipe, apply_overrides
from fmicl_text.reporting.model_card import EXAMPLES, log_table, model_card, scores_table

TASKS = ("sts12", "sts13", "sts14", "sts15", "sts16", "stsb", "sickr")
CITATION = """@inproceedings{gao2021simcse,
    title = {{SimCSE}: Simple Contrastive Learning of Sentence Embeddings},
    author = {Gao, Tianyu and Yao, Xingcheng and Chen, Danqi},
    year = {2021}
}"""
DATA = "wiki (wiki1m_for_simcse.txt): 1,000,000 rows, unsupervised (anchor = positive = line)"
HARDWARE = "NVIDIA H200 (141 GiB)"


def scores(base: float) -> dict:
    out = {task: base + i for i, task in enumerate(TASKS)}
    out["sts16"] = None  # undefined (collapsed embeddings)
    out["avg"] = 70.123
    return out


def made_up_results(**extra) -> dict:
    return {
        "recipe": "simcse-bert",
        "base_model": "bert-base-uncased",
        "loss": {"name": "infonce", "temperature": 0.05},
        "views": "a=none; b=none",
        "data": DATA,
        "steps": 250,
        "skipped_steps": 0,
        "dev": {"suite": "stsb-dev", "best": 82.3456, "best_step": 250},
        "seconds": 600.0,
        "resumed_from_step": None,
        "device": "cuda:0",
        "hardware": HARDWARE,
        "precision": "bf16",
        "world_size": 1,
        "torch": "2.13.0",
        "test": {"scores": scores(70.0), "suite": "senteval7", "text": "senteval"},
        "base": {"model": "bert-base-uncased", "dev": 59.5, "test": {"scores": scores(50.0)}},
        **extra,
    }


LOG = [
    {"loss": 2.5, "step": 1},
    {"loss": 3e-05, "step": 100},
    {"loss": 0.0, "step": 125},
    {"eval_sts_stsb_dev": 80.0, "step": 125},
    {"loss": 1.5e-05, "step": 250},
    {"eval_sts_stsb_dev": 82.3456, "step": 250},
    {"train_loss": 1.0, "train_runtime": 600.0, "step": 250},
]


def recipe() -> Recipe:
    return apply_overrides(
        Recipe(name="simcse-bert"),
        {"model.name_or_path": "bert-base-uncased", "training.warmup_ratio": 0.1, "training.batch_size": 64},
    )


def card(**extra) -> str:
    return model_card(
        recipe=recipe(),
        results=made_up_results(**extra),
        log_history=LOG,
        dev_key="eval_sts_stsb_dev",
        loss_class="InfoNCELoss",
        citation=CITATION,
        dimension=768,
        folder="runs/simcse-bert",
        similarities=[[1.0, 0.71234, 0.05], [0.71234, 1.0, 0.1], [0.05, 0.1, 1.0]],
    )


def test_scores_table_beside_the_base():
    lines = scores_table(made_up_results())
    assert lines[0] == "| model | " + " | ".join([*TASKS, "avg"]) + " |"
    assert lines[1] == "|---|" + "---:|" * 8
    assert lines[2] == "| this model | 70.00 | 71.00 | 72.00 | 73.00 | n/a | 75.00 | 76.00 | 70.12 |"
    assert lines[3] == "| base (`bert-base-uncased`) | 50.00 | 51.00 | 52.00 | 53.00 | n/a | 55.00 | 56.00 | 70.12 |"
    assert len(lines) == 4
    assert len(scores_table(made_up_results(base=None))) == 3  # no base row when the base was not scored
    assert scores_table({**made_up_results(), "test": None}) == []  # no final evaluation: no table


def test_log_table_means_the_loss_since_the_last_evaluation_and_never_rounds_it_to_zero():
    lines = log_table(LOG, "eval_sts_stsb_dev", best_step=250)
    assert lines[:2] == ["| step | training loss | dev |", "|---:|---:|---:|"]
    assert lines[2] == f"| 125 | {(2.5 + 3e-05 + 0.0) / 3:.4g} | 80.00 |"
    assert lines[3] == "| **250** | **1.5e-05** | **82.35** |"  # the kept checkpoint in bold; not 0.0000
    assert len(lines) == 4  # one row per evaluation: no -1 row, no row for the train summary
    assert not any("0.0000" in line for line in lines)
    assert log_table(LOG, None, 250) == []  # no dev suite: no table
    assert log_table([{"loss": 1.0, "step": 1}], "eval_sts_stsb_dev", None) == []  # no evaluation logged
    # An evaluation before any training loss row: a blank loss cell.
    assert log_table([{"eval_sts_stsb_dev": 50.0, "step": 0}], "eval_sts_stsb_dev", None)[2] == "| 0 |  | 50.00 |"


def test_the_card_reads_like_a_finished_one():
    text = card()
    front, body = text.split("---\n")[1], text.split("---\n", 2)[2]
    meta = yaml.safe_load(front)
    assert meta["base_model"] == "bert-base-uncased" and "loss:InfoNCELoss" in meta["tags"]
    metrics = {r["dataset"]["name"]: r["metrics"][0]["value"] for r in meta["model-index"][0]["results"]}
    assert metrics == {"sts12": 0.7, "sts13": 0.71, "sts14": 0.72, "sts15": 0.73, "stsb": 0.75, "sickr": 0.76}
    # What the model is, from what, with which objective and paper.
    assert "# simcse-bert" in body and "from `bert-base-uncased`" in body and "768-dimensional" in body
    assert (
        "Objective: `infonce` (InfoNCELoss, from *SimCSE: Simple Contrastive Learning of Sentence Embeddings*)" in body
    )
    # How to load it: from the folder, with three different sentences and their similarities.
    assert 'model = SentenceTransformer("runs/simcse-bert")  # this folder' in body
    assert f"sentences = {list(EXAMPLES)!r}" in body and len(set(EXAMPLES)) == 3
    assert "# tensor([[1.0000, 0.7123, 0.0500]," in body and "#         [0.0500, 0.1000, 1.0000]])" in body
    # The results beside the base's, and the dev score the checkpoint was kept for.
    assert "| this model | 70.00 |" in body and "| base (`bert-base-uncased`) | 50.00 |" in body
    assert "the best on stsb-dev (dev, never test): 82.35 at step 250 (the base model: 59.50)." in body
    # How it was trained: objective, views, data with its size, steps, warm-up, hardware and time.
    assert "- objective: `infonce` with `temperature=0.05`" in body
    assert "- views: dropout only (SimCSE)" in body
    assert f"- data: {DATA}" in body and "1,000,000 rows" in body
    assert "- steps: 250, batch 64, learning rate 3e-05, warm-up ratio 0.1," in body and "precision bf16" in body
    assert f"- hardware and time: 1 process on {HARDWARE}, 10.0 min (torch 2.13.0)" in body
    assert "| **250** | **1.5e-05** | **82.35** |" in body
    # The recipe as run, and both citations.
    recipe_block = body.split("```yaml\n")[1].split("```")[0]
    assert yaml.safe_load(recipe_block)["training"]["warmup_ratio"] == 0.1
    assert "gao2021simcse" in body and "reimers-2019-sentence-bert" in body
    for placeholder in ("sentence_transformers_model_id", "Unnamed Dataset", "| -1 ", "0.0000 |", "widget:"):
        assert placeholder not in text, placeholder


def test_the_card_names_processes_resumes_and_skipped_updates():
    text = card(world_size=2, resumed_from_step=125, skipped_steps=3)
    assert f"- hardware and time: 2 processes on {HARDWARE}, 10.0 min, resumed from step 125" in text
    assert "- updates skipped for non-finite values: 3" in text
    older = made_up_results()
    del older["hardware"]  # a run of a version that recorded only the device
    text = model_card(recipe=recipe(), results=older, log_history=LOG, dev_key="eval_sts_stsb_dev",
                      loss_class="InfoNCELoss", citation=CITATION, dimension=768, folder="x",
                      similarities=[[1.0]])  # fmt: skip
    assert "1 process on cuda:0," in text
