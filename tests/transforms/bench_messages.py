"""Throughput of transforms.messages on F1-shaped items (nested campaign included).

Run: .venv/bin/python tests/transforms/bench_messages.py [N]
"""

import copy
import json
import sys
import time
from pathlib import Path

import pandas as pd

import transforms

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
f1 = json.loads((Path(__file__).parent / "fixtures" / "f1_message_list.json").read_text())
template = f1["data"]["items"][0]
items = []
for i in range(N):
    it = dict(template)  # shallow copy: the nested campaign object is shared, as a JSON decoder would not, but
    it["id"] = str(1_000_000 + i)  # messages never reads it
    it["statusUpdateTs"] = f"2021-09-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:19"
    items.append(it)
items[0] = copy.deepcopy(items[0])
observed = pd.Timestamp("2021-10-01", tz="UTC")
best = float("inf")
for _ in range(3):
    t0 = time.perf_counter()
    result = transforms.messages(items, "Asia/Almaty", observed)
    best = min(best, time.perf_counter() - t0)
print(f"{N} items in {best:.3f}s: {N / best:,.0f} items/s (unexpected={result.unexpected})")
