"""A sync whose lake is published to S3 (`SMS_LAKE_URL`, moto's server) gives, after a backfill and after an
incremental run, the warehouse of the same sync with the local lake only, row by row in every table and view;
a machine with no lake of its own builds that warehouse from the bucket (`smsetl build --lake-url`); the
secret key is in no file, object or log line. The publish times, local and S3, are printed at the end. And an
agency's accounts, synced into the bucket, give another machine their combined warehouse from the bucket alone."""

import contextlib
import io
import logging
from datetime import timedelta

from e2e_support import SANDBOX_NOW, SANDBOX_TZ, SyncedSandbox, dump
from reliability_support import dump_warehouse, small_sandbox
from s3_support import SECRET_ACCESS_KEY, object_keys, s3_client

from sandbox import SANDBOX_API_KEY, Faults, Sandbox
from smsetl import cli

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


def test_another_machine_builds_the_agencys_combined_warehouse_from_the_bucket_alone(bucket, tmp_path, monkeypatch,
                                                                                       prefect_harness):
    """`smsetl sync --accounts F --lake-url` on one machine, `smsetl build --accounts F --lake-url` on another: the
    combined warehouse built from the bucket equals the syncing machine's, account by account; an account that
    never published fails the build, naming it, and the others are built."""
    keys = {"acme": "acme" + "1" * 36, "beta": "beta" + "2" * 36}
    lake_url = f"s3://{bucket}/agency"
    monkeypatch.setenv("SMS_RATE_LIMIT", "none")
    monkeypatch.delenv("SMS_API_KEY", raising=False)
    with contextlib.ExitStack() as stack:
        servers = {}
        for seed, (name, key) in enumerate(keys.items(), 51):
            sb = Sandbox.generate(seed=seed, campaigns=3, messages=240, now=SANDBOX_NOW, timezone=SANDBOX_TZ)
            sb.api_key = key
            servers[name] = stack.enter_context(sb.serve(port=0, faults=Faults()))
            monkeypatch.setenv(f"{name.upper()}_SMS_API_KEY", key)
        accounts = tmp_path / "agency.toml"
        accounts.write_text("".join(f'[[account]]\nname = "{n}"\napi_url = "{s.url}"\n'
                                    f'key_env = "{n.upper()}_SMS_API_KEY"\ntimezone = "{SANDBOX_TZ}"\n\n'
                                    for n, s in servers.items()))
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli.main(["sync", "--accounts", str(accounts), "--data-dir", str(tmp_path / "syncer"),
                             "--since", "2026-05-01", "--lake-url", lake_url]) == 0
    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # the gateways are gone: the bucket is all the reader has
        assert cli.main(["build", "--accounts", str(accounts), "--data-dir", str(tmp_path / "reader"),
                         "--lake-url", lake_url]) == 0
    assert f"acme: warehouse rebuilt from {lake_url}/accounts/acme (last run: success)" in out.getvalue()
    synced, built = tmp_path / "syncer" / "warehouse.duckdb", tmp_path / "reader" / "warehouse.duckdb"
    for name in keys:
        rows = dump(synced, account=name)
        assert len(rows["messages"]) > 100
        assert dump(built, account=name) == rows
    assert not (tmp_path / "reader" / "accounts" / "acme" / "lake").exists()  # read from S3, not copied

    accounts.write_text(accounts.read_text() + f'[[account]]\nname = "gamma"\napi_url = "http://127.0.0.1:9"\n'
                                                f'key_env = "GAMMA_SMS_API_KEY"\ntimezone = "{SANDBOX_TZ}"\n')
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert cli.main(["build", "--accounts", str(accounts), "--data-dir", str(tmp_path / "reader"),
                         "--lake-url", lake_url]) == 1
    assert "account 'gamma': nothing is published at " + f"{lake_url}/accounts/gamma" in err.getvalue()
    assert dump(built, account="acme") == dump(synced, account="acme")
