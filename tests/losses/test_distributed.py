"""Gathering across processes is exact: 2 processes (gloo) == 1 process on the whole batch.

``accelerate launch --cpu --num_processes 2`` silently starts a single process, so the test uses
``torchrun`` (``python -m torch.distributed.run``) and checks that two processes really ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("ddp_worker.py")


@pytest.mark.slow
def test_gathered_losses_match_single_process(tmp_path):
    out = tmp_path / "ddp.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(WORKER), str(out)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["world_size"] == 2
    assert len(report["results"]) == 14 and sum("cached" in row["case"] for row in report["results"]) == 2
    for row in report["results"]:
        assert row["grad_norm"] > 1e-6, row  # the comparison is not vacuous
        assert row["value_diff"] < 1e-10, row
        assert row["grad_diff"] < 1e-10 * max(1.0, row["grad_norm"]), row
