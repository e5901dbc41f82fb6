"""A million messages stay well under 1 GiB (slow: run with SMSETL_SLOW=1)."""

import subprocess
import sys

import pytest

SCRIPT = """
import resource, time
from datetime import datetime
from sandbox import Sandbox
t = time.time()
sb = Sandbox.generate(seed=7, campaigns=2000, messages=1_000_000, now=datetime(2026, 11, 1, 12))
sb.ground_truth()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, time.time() - t)
"""


@pytest.mark.slow
def test_a_million_messages_stay_under_1_gib_of_memory():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    rss_mb, _seconds = out.split()
    assert int(rss_mb) < 1024
