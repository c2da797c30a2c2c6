"""``keep_freed_memory``: after it, a large buffer freed and allocated again is reused, not page-faulted in."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import resource
import torch
from fmicl_text.training.allocator import keep_freed_memory

def faults_per_round(rounds=30):
    out = []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.empty(16 * 2**20).fill_(1.0)  # 64 MB: above glibc's largest mmap threshold
        out.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return out

default = faults_per_round()
applied = keep_freed_memory()
kept = faults_per_round()
print(applied, min(default), max(kept[-10:]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator: Linux only")
def test_freed_buffers_are_reused_instead_of_faulted_in_again():
    out = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=120, check=True)
    applied, default, kept = out.stdout.split()
    assert applied == "True"
    assert int(default) > 10_000  # by default every round maps 64 MB of fresh 4 KB pages (16,384)
    # Once the heap has grown to hold the buffer (a few rounds), the same pages serve every round.
    assert int(kept) < 100
