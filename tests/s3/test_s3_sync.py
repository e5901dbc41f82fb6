"""A sync whose lake is published to S3 (`SMS_LAKE_URL`, moto's server) gives, after a backfill and after an
incremental run, the warehouse of the same sync with the local lake only, row by row in every table and view;
a machine with no lake of its own builds that warehouse from the bucket (`smsetl build --lake-url`); the
secret key is in no file, object or log line. The publish times, local and S3, are printed at the end."""

import logging
from datetime import timedelta

from e2e_support import SANDBOX_TZ, SyncedSandbox
from reliability_support import dump_warehouse, small_sandbox
from s3_support import SECRET_ACCESS_KEY, object_keys, s3_client

from sandbox import SANDBOX_API_KEY

SEED = 41
LATER = timedelta(hours=6)


def backfill_then_incremental(data_dir, monkeypatch) -> tuple[list[dict], list[dict]]:
    """The warehouse dump and run summary after a backfill, then after the sandbox's clock moved on."""
    sb = small_sandbox(SEED)
    dumps = []
    with sb.serve(port=0) as server:
        for name, value in (("SMS_API_URL", server.url), ("SMS_API_KEY", SANDBOX_API_KEY),
                            ("SMS_TIMEZONE", SANDBOX_TZ), ("SMS_RATE_LIMIT", "none")):
            monkeypatch.setenv(name, value)
        state = SyncedSandbox(sb, server, data_dir)
        state.sync(since=state.as_of() - timedelta(days=120))
        dumps.append(dump_warehouse(data_dir))
        sb.clock.advance(LATER)
        state.sync()
        dumps.append(dump_warehouse(data_dir))
    return dumps, state.summaries


def test_a_sync_into_s3_equals_the_local_sync_row_by_row_and_a_reader_builds_it_from_the_bucket(
        prefect_harness, bucket, s3_endpoint, tmp_path, monkeypatch, caplog, capfd, figures):
    caplog.set_level(logging.DEBUG)
    for name in ("smsetl", "flows", "storage"):  # some do not propagate to the root logger; Prefect's go to capfd
        monkeypatch.setattr(logging.getLogger(name), "level", logging.DEBUG)
        monkeypatch.setattr(logging.getLogger(name), "handlers", [*logging.getLogger(name).handlers, caplog.handler])
    monkeypatch.delenv("SMS_LAKE_URL", raising=False)
    local, local_runs = backfill_then_incremental(tmp_path / "local", monkeypatch)
    assert local[0]["messages"] and local[1] != local[0]  # the incremental run changed something

    lake_url = f"s3://{bucket}/acme/lake"
    monkeypatch.setenv("SMS_LAKE_URL", lake_url)
    remote, remote_runs = backfill_then_incremental(tmp_path / "s3", monkeypatch)
    for stage in (0, 1):
        assert remote[stage].keys() == local[stage].keys()
        for name in local[stage]:
            assert remote[stage][name] == local[stage][name], f"run {stage}: {name} differs"
    backfill, incremental = (run["published"] for run in remote_runs)
    assert backfill["lake_url"] == lake_url and backfill["uploaded"] == backfill["files"] > 0
    assert 0 < incremental["uploaded"] < incremental["files"]  # only the partitions the run rewrote
    from flows.sync import format_summary

    assert f"lake published to {lake_url}: {incremental['uploaded']} of {incremental['files']} files uploaded" \
        in format_summary(remote_runs[1])
    assert "lake published" not in format_summary(local_runs[1])

    # Another machine: nothing local but the settings; the warehouse comes from the bucket's manifest.
    from smsetl.cli import main

    assert main(["build", "--lake-url", lake_url, "--data-dir", str(tmp_path / "reader")]) == 0
    assert dump_warehouse(tmp_path / "reader") == local[1]

    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        assert SECRET_ACCESS_KEY.encode() not in path.read_bytes(), path
    client = s3_client(s3_endpoint)
    for key in object_keys(s3_endpoint, bucket):
        assert SECRET_ACCESS_KEY.encode() not in client.get_object(Bucket=bucket, Key=key)["Body"].read(), key
    logs = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    assert f"published the lake to {lake_url}" in logs  # the publishing was logged: a real test
    assert SECRET_ACCESS_KEY not in logs + "".join(capfd.readouterr())

    for label, local_run, remote_run in (("backfill", local_runs[0], remote_runs[0]),
                                         ("incremental", local_runs[1], remote_runs[1])):
        figures[f"publish seconds, {label}: local"] = local_run["phase_seconds"]["publish"]
        figures[f"publish seconds, {label}: S3 (upload + manifest, then warehouse from S3)"] = (
            remote_run["phase_seconds"]["publish"])
        figures[f"files uploaded, {label}"] = f"{remote_run['published']['uploaded']} of " \
                                              f"{remote_run['published']['files']}"
