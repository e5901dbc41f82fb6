"""Throughput of transforms.messages on F1-shaped items (nested campaign included).

Run: .venv/bin/python tests/transforms/bench_messages.py [N]
"""

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
    it = dict(template)  # shallow copy: the nested campaign object is shared (messages never reads it)
    it["id"] = str(1_000_000 + i)
    it["statusUpdateTs"] = f"2021-09-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:19"
    items.append(it)
observed = pd.Timestamp("2021-10-01", tz="UTC")
best_wall = best_cpu = float("inf")
for _ in range(5):
    w0, c0 = time.perf_counter(), time.process_time()
    result = transforms.messages(items, "Asia/Almaty", observed)
    best_wall = min(best_wall, time.perf_counter() - w0)
    best_cpu = min(best_cpu, time.process_time() - c0)
print(f"{N} items: best wall {best_wall:.3f}s = {N / best_wall:,.0f} items/s; "
      f"best cpu {best_cpu:.3f}s = {N / best_cpu:,.0f} items/s "
      f"(rows={len(result.frame)}, unexpected={result.unexpected})")
