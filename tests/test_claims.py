"""``eval/claims.py``: each claim's verdict follows the seeds' noise, and the report says what has not run."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from fmicl_text.layout import AVG

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("claims", ROOT / "eval" / "claims.py")
claims = importlib.util.module_from_spec(spec)
sys.modules["claims"] = claims  # dataclasses look their module up there
spec.loader.exec_module(claims)


def _record(row, seed, avg, **extra):
    geometry = {"alignment": 0.25, "uniformity": -3.8, "erank": 100.0, "i_nce": 4.0} | extra.pop("diagnostics", {})
    return {"row": row, "seed": seed, "test": {"sts12": avg - 2, AVG: avg}, "dev": 86.0 + seed / 100,
            "diagnostics": geometry, **extra}  # fmt: skip


def _runs(rows: dict[str, list[float]], **kwargs) -> claims.Runs:
    records = [_record(row, seed, avg) for row, avgs in rows.items() for seed, avg in enumerate(avgs, start=1)]
    return claims.Runs("t", records, **kwargs)


def test_a_difference_is_a_claim_only_beyond_noise_and_in_its_direction():
    assert claims.directed(1.0, 0.01, +1) == claims.REPRODUCED
    assert claims.directed(-1.0, 0.01, +1).startswith(claims.NOT_REPRODUCED)
    assert claims.directed(1.0, 0.3, +1).startswith(claims.INCONCLUSIVE)
    assert claims.directed(1.0, None, +1) == "inconclusive (fewer than 3 seeds)"
    assert claims.directed(None, None, +1) == claims.NOT_RUN
    assert claims.overall([claims.REPRODUCED, claims.REPRODUCED]) == claims.REPRODUCED
    assert claims.overall([claims.REPRODUCED, "inconclusive (within noise)"]) == claims.INCONCLUSIVE
    assert claims.overall([claims.REPRODUCED, "not reproduced (the opposite, beyond noise)"]) == claims.NOT_REPRODUCED
    assert claims.overall([claims.NOT_RUN]) == claims.NOT_RUN


def test_the_critic_claim_reads_each_divergence_seed_for_seed():
    rows = {}
    for d in claims.DIVERGENCES:
        rows[f"fmicl-{d}-gaussian"] = [80.0, 81.0, 82.0]
        rows[f"fmicl-{d}-cosine"] = [79.0, 80.1, 80.9]  # about a point below on every seed
    assert claims.critic_claim(_runs(rows)).verdict == claims.REPRODUCED
    rows["fmicl-kl-cosine"] = [81.0, 82.1, 82.9]  # cosine ahead for KL, beyond noise
    claim = claims.critic_claim(_runs(rows))
    assert claim.verdict == claims.NOT_REPRODUCED and "behind for 1" in claim.evidence
    assert "untrained" not in "\n".join(claim.lines)  # records without the base's scores
    runs = _runs(rows)
    runs.records = [{**r, "base": {"model": "m", "test": {AVG: 80.0}}} for r in runs.records]
    text = "\n".join(claims.critic_claim(runs).lines)
    assert "The untrained base scores 80.00" in text and "kl +1.00 / +2.00" in text  # means 81.0 and 82.0


def test_the_ranking_claim_finds_a_reversal_between_sts_sets():
    records = []
    for i, d in enumerate(claims.DIVERGENCES):
        for seed in (1, 2, 3):
            sts12 = 70 + i + 0.1 * seed  # the last divergence best on sts12 ...
            sts13 = 70 - i + 0.1 * seed * (i + 1)  # ... the first best on sts13, on every seed
            records.append({"row": f"fmicl-{d}-gaussian", "seed": seed,
                            "test": {"sts12": sts12, "sts13": sts13, AVG: (sts12 + sts13) / 2}})  # fmt: skip
    claim = claims.ranking_claim(claims.Runs("t", records))
    assert claim.verdict == claims.REPRODUCED
    assert "vlc on sts12, kl on sts13" in "\n".join(claim.lines)
    assert "| sts12 |" in "\n".join(claim.lines) and "kl" in claim.evidence
    one = [
        dict(r, test={k: (v + 10 if r["row"] == "fmicl-js-gaussian" else v) for k, v in r["test"].items()})
        for r in records
    ]  # js best everywhere, by far
    assert claims.ranking_claim(claims.Runs("t", one)).verdict.startswith(claims.NOT_REPRODUCED)


def test_holm_and_the_equivalence_test():
    assert claims.holm([0.001, 0.02]) and not claims.holm([0.03, 0.04])  # 0.03 > 0.05 / 2
    assert claims.holm_adjusted([0.02, 0.001, 0.04]) == pytest.approx([0.04, 0.003, 0.04])  # step-down, monotone
    ref = {1: 80.0, 2: 81.0, 3: 82.0}
    assert claims.tost({1: 80.1, 2: 81.05, 3: 82.12}, ref, 0.5) < 0.05  # within +-0.5, tight
    assert claims.tost({1: 81.0, 2: 82.0, 3: 83.0}, ref, 0.5) == 1.0  # a point apart on every seed
    assert claims.tost({1: 80.0}, ref, 0.5) is None
    assert claims.tost({1: 80.1, 2: 81.05}, ref, 0.5) is None  # 2 seeds: too few to call alike


def test_batch_sensitivity_compares_each_seeds_range_over_batches(tmp_path):
    rows = {}
    for n, shift in zip(claims.BATCHES, (0.0, 1.0, 2.0, 3.0), strict=True):
        rows[f"infonce-b{n}"] = [80 + 2 * shift, 80.2 + 2 * shift, 79.9 + 2 * shift]  # range ~6 points
        rows[f"dhel-b{n}"] = [80 + 0.1 * shift, 80.3, 79.8 + 0.1 * shift]  # range under a point
        rows[f"kcl-b{n}"] = [80, 80.3, 79.8]
    claim = claims.batch_claim(_runs(rows), tmp_path)
    assert claim.verdict == claims.REPRODUCED


def test_the_head_claim_needs_the_priors_closer_with_the_head(tmp_path):
    rows = {f"gcl-{p}": [70 + 3 * i + s for s in (0, 0.2, 0.1)] for i, p in enumerate(claims.PRIORS)}
    rows |= {f"gcl-{p}-head3": [75 + 0.1 * i + s for s in (0, 0.2, 0.1)] for i, p in enumerate(claims.PRIORS)}
    assert claims.head_claim(_runs(rows)).verdict == claims.REPRODUCED
    assert claims.head_claim(_runs({})).verdict == claims.NOT_RUN


def _points(folder: Path, devs: dict[float, float], spread: Sequence[float] = ()) -> Path:
    """A sweep's points.jsonl: one line a strength without a seed (as one-seed sweeps wrote them), plus a line
    for seed 43, 44, ... at each ``dev + shift`` of ``spread``."""
    folder.mkdir(parents=True)
    lines = [json.dumps({"key": json.dumps({"training": {"seed": 42}, "v": v}), "value": v, "stsb_dev": d,
                         "i_nce": 4.1 - v}) for v, d in devs.items()]  # fmt: skip
    lines += [json.dumps({"key": f"{v}-{i}", "value": v, "stsb_dev": d + shift, "i_nce": 4.1 - v, "seed": 43 + i})
              for i, shift in enumerate(spread) for v, d in devs.items()]  # fmt: skip
    (folder / "points.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.parametrize(
    ("devs", "verdict"),
    [
        ({0: 85.0, 0.1: 87.0, 0.2: 86.0, 0.5: 84.0}, claims.REPRODUCED),
        ({0: 87.5, 0.1: 86.0, 0.2: 85.0, 0.5: 84.0}, claims.NOT_REPRODUCED),
        ({0: 87.4, 0.1: 87.5, 0.2: 86.0, 0.5: 85.0}, claims.INCONCLUSIVE),
    ],
)
def test_a_reverse_u_needs_an_inside_peak_above_both_ends_beyond_noise(devs, verdict, tmp_path):
    folder = _points(tmp_path / "sweep", devs)
    claim = claims.infomin_claim({"word_deletion": folder}, (0.5, "test"), tmp_path / "plots")
    assert claim.verdict == verdict and claim.plot.is_file()


def test_with_seeds_a_reverse_u_is_a_paired_test_over_them_and_a_small_gap_can_count(tmp_path):
    devs = {0: 87.3, 0.1: 87.6, 0.2: 87.1, 0.5: 86.4}  # inside peak +0.3: below the one-seed bar of 2 x 0.5 x 1.41
    one = claims.infomin_claim({"f": _points(tmp_path / "one", devs)}, (0.5, "t"), tmp_path)
    assert one.verdict.startswith(claims.INCONCLUSIVE) and "| f | 1 | 0, 0.1, 0.2, 0.5 |" in "\n".join(one.lines)
    seeded = _points(tmp_path / "three", devs, spread=(0.2, -0.3))  # every strength moves alike with the seed
    points = claims.load_points(seeded)
    assert points[0.1]["seeds"] == {42: 87.6, 43: pytest.approx(87.8), 44: pytest.approx(87.3)}
    assert points[0.1]["stsb_dev"] == pytest.approx(87.5667, abs=1e-4) and claims.seeded(points) == 3
    claim = claims.infomin_claim({"f": seeded}, (0.5, "t"), tmp_path)
    assert claim.verdict == claims.REPRODUCED and "| f | 3 | 0, 0.1, 0.2, 0.5 | 87.27, 87.57" in "\n".join(claim.lines)
    assert "| reproduced (0.1 - 0: +0.30, p 0.000; 0.1 - 0.5: +1.20, p 0.000) |" in "\n".join(claim.lines)


def test_with_seeds_suppression_tests_each_seeds_drop(tmp_path):
    plain = _points(tmp_path / "plain", {0: 87.0, 1: 86.9, 2: 86.8, 4: 86.6}, spread=(0.1, -0.2))
    stronger = _points(tmp_path / "stronger", {0: 86.5, 1: 86.5, 2: 86.5, 4: 86.5}, spread=(0.3, 0.1))
    claim = claims.suppression_claim(plain, stronger, (0.5, "test"))  # a 0.4 drop: inside the bar, yet every seed's
    assert claim.verdict == claims.REPRODUCED and "paired t-test over the seeds" in "\n".join(claim.lines)
    assert claim.evidence == "falls: reproduced (+0.40, p 0.000); restored: reproduced (+0.40, p 0.000)"
    assert "(the fewest of any point: dropout only 3, word deletion 3)" in "\n".join(claim.lines)
    assert "| dropout only | +0.10, p 0.000 | +0.20, p 0.000 | +0.40, p 0.000 |" in claim.lines  # the fall at each k
    assert "| word deletion 0.2 | +0.00, p 1.000 | +0.00, p 1.000 | +0.00, p 1.000 |" in claim.lines


def test_the_sweeps_noise_bar_is_twice_the_seed_sd_at_their_budget(tmp_path):
    rows = [
        {"setting": name, "steps": 200, "stsb_dev": dev}
        for name, dev in (("dropout", 87.0), ("dropout_seed43", 87.2), ("dropout_seed44", 87.4))
    ]
    rows.append({"setting": "word_deletion", "steps": 200, "stsb_dev": 80.0})  # not a seed row
    bench = tmp_path / "views.jsonl"
    bench.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    bar, source = claims.seed_noise(bench)
    assert bar == pytest.approx(0.2) and "3 seeds" in source
    assert claims.bar(0.2, 4) == pytest.approx(0.8) and claims.bar(None, 2) is None
    assert claims.seed_noise(tmp_path / "none.jsonl")[0] is None


def test_feature_suppression_and_its_restoration(tmp_path):
    plain = _points(tmp_path / "plain", {0: 87.0, 1: 85.0, 2: 83.0, 4: 80.0})
    stronger = _points(tmp_path / "stronger", {0: 86.5, 1: 86.0, 2: 85.8, 4: 85.5})
    claim = claims.suppression_claim(plain, stronger, (0.5, "test"))
    assert claim.verdict == claims.REPRODUCED and "| dropout only | 87.00 |" in "\n".join(claim.lines)
    assert claims.suppression_claim(tmp_path / "none", tmp_path / "none2", (0.5, "test")).verdict == claims.NOT_RUN


def test_simcse_ablations_expect_dropout_ahead():
    rows = {"dropout": [87.0, 87.2, 87.1], "no_dropout": [86.0, 86.1, 86.2]}
    collapse, augment = claims.simcse_claims(_runs(rows))
    assert collapse.verdict == claims.REPRODUCED and augment.verdict == claims.NOT_RUN


def test_the_views_claim_corrects_for_testing_every_view_together():
    rows = {
        "dropout": [87.0, 87.2, 87.1],
        "token_cutoff": [87.3, 87.7, 87.5],  # ahead by 0.3 / 0.5 / 0.4: p 0.020 alone, 3 x that for three views
        "word_deletion": [87.1, 87.1, 87.1],
        "span_mask": [87.05, 87.1, 87.2],
    }
    _, augment = claims.simcse_claims(_runs(rows))
    cutoff = next(line for line in augment.lines if line.startswith("| token_cutoff |"))
    assert "| 0.020 | 0.061 | inconclusive (within noise) |" in cutoff
    assert augment.verdict == claims.INCONCLUSIVE  # uncorrected, it would read "not reproduced"


def test_the_report_is_written_from_whatever_has_run(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.argv", ["claims.py", "--output", str(tmp_path / "claims.md")])
    claims.main()
    text = (tmp_path / "claims.md").read_text()
    assert text.startswith("# The papers' claims at this scale")
    assert text.count("| f-MICL |") == 3 and "## 10. SimCSE:" in text


def test_kl_gaussian_is_like_au_only_when_shown_alike_within_the_margins(tmp_path):
    alike = _runs({"fmicl-kl-gaussian": [80.1, 81.05, 82.12], "au": [80.0, 81.0, 82.0]})
    assert claims.kl_au_claim(alike, tmp_path).verdict == claims.REPRODUCED
    apart = _runs({"fmicl-kl-gaussian": [82.0, 83.0, 84.1], "au": [80.0, 81.0, 82.0]})
    assert claims.kl_au_claim(apart, tmp_path).verdict == claims.NOT_REPRODUCED
    noisy = _runs({"fmicl-kl-gaussian": [79.0, 82.5, 81.0], "au": [80.0, 81.0, 82.0]})
    assert claims.kl_au_claim(noisy, tmp_path).verdict == claims.INCONCLUSIVE
    two_seeds = _runs({"fmicl-kl-gaussian": [80.1, 81.05], "au": [80.0, 81.0]})
    claim = claims.kl_au_claim(two_seeds, tmp_path)
    assert claim.verdict == claims.INCONCLUSIVE and "fewer than 3 seeds" in claim.evidence
