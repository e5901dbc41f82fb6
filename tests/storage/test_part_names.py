"""Part files of one run written by several processes, on several machines sharing the data directory (a run's
message batches on a Dask cluster): no name repeats, so no part is renamed over another."""

import os
import subprocess
import sys
from pathlib import Path

from storage.parts import part_name, writer_of

ROOT = Path(__file__).resolve().parents[2]

# One writer process as a machine of its own would run it: its first process, pid 1, like a container's.
WRITE = """
import os, sys
os.getpid = lambda: 1
from pathlib import Path
import pyarrow as pa
from storage import raw
from storage.lake import StagingWriter
root = Path(sys.argv[1])
with raw.RawWriter(root / "raw", "messages", "r1") as w:
    w.write("Message/List", {}, "2026-11-01T00:00:00+00:00", [{"id": sys.argv[2]}])
s = StagingWriter(root / "staging", "messages")
s.append(pa.table({"message_id": [int(sys.argv[2])]}))
s.close()
"""


def test_names_start_with_the_pid_and_never_repeat_within_a_process():
    names = [part_name(".parquet") for _ in range(1000)]
    assert len(set(names)) == 1000
    assert {writer_of(n) for n in names} == {writer_of(names[0])}
    assert writer_of(names[0]).split("-")[0] == str(os.getpid())


def test_two_machines_with_equal_pids_write_one_runs_folders_without_overwriting_each_other(tmp_path):
    for message_id in ("1", "2"):
        subprocess.run([sys.executable, "-c", WRITE, str(tmp_path), message_id], check=True, cwd=ROOT)
    from storage import raw

    parts = sorted(p.name for p in (tmp_path / "raw" / "messages" / "run=r1").iterdir())
    assert len(parts) == 2 and all(p.startswith("part-1-") for p in parts)
    assert sorted(r["data"][0]["id"] for r in raw.read(tmp_path / "raw", "messages", "r1")) == ["1", "2"]
    assert len(list((tmp_path / "staging" / "messages").glob("part-1-*.parquet"))) == 2
