"""The API key reaches no log, file or exception text: a sync under faults (so the error paths log too) and a
failed one are run with a distinctive key, then every byte they left is searched for it. TLS verification is
on, and nothing in the code turns it off."""

import logging
import traceback
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, quote_plus

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from e2e_support import SANDBOX_TZ, SyncedSandbox
from reliability_support import ROOT, fast_client, small_sandbox

from sandbox import Faults
from smsapi import SmsApi

KEY = "leakcheck" + "5a7e" * 7 + "xyz"  # 40 characters like a real key, and found nowhere by chance
FORMS = {KEY, quote(KEY), quote_plus(KEY), KEY.encode().hex()}


def readable_forms(path: Path) -> list[bytes]:
    """The file's bytes, plus what they hold once decoded: zstd raw payloads, Parquet rows, DuckDB tables."""
    data = path.read_bytes()
    out = [data]
    if path.name.endswith(".zst"):
        out.append(pa.input_stream(str(path), compression="zstd").read())
    elif path.suffix == ".parquet":
        out.append(repr(pq.read_table(path).to_pylist()).encode())
    elif path.suffix == ".duckdb":
        con = duckdb.connect(str(path), read_only=True)
        try:
            # every schema's tables: smsetl_build's (what the warehouse was built from) too
            for schema, name in con.execute("select table_schema, table_name from information_schema.tables"
                                            ).fetchall():
                out.append(repr(con.execute(f'select * from "{schema}"."{name}"').fetchall()).encode())
        finally:
            con.close()
    return out


def assert_key_absent(label: str, blobs: list[bytes], figures) -> None:
    for blob in blobs:
        figures["bytes scanned for the key"] += len(blob)
        for form in FORMS:
            assert form.encode() not in blob, f"the API key ({form!r}) is in {label}"


def test_no_byte_of_the_data_directory_logs_or_exceptions_holds_the_api_key(
        prefect_harness, monkeypatch, tmp_path, caplog, capfd, figures):
    fast_client(monkeypatch, max_retries=3)
    caplog.set_level(logging.DEBUG)
    for name in ("smsapi", "flows", "storage", "prefect"):  # some do not propagate to the root logger
        monkeypatch.setattr(logging.getLogger(name), "level", logging.DEBUG)
        logging.getLogger(name).addHandler(caplog.handler)
    sb = small_sandbox(51)
    sb.api_key = KEY
    data_dir = tmp_path / "data"
    faults = Faults(http_5xx=0.05, drop=0.05, truncated=0.05, code3=0.05, code999=0.05, slow=0.05,
                    slow_seconds=0.6, seed=3)
    errors = []
    with sb.serve(port=0, faults=faults) as server:
        for name, value in (("SMS_API_URL", server.url), ("SMS_API_KEY", KEY), ("SMS_TIMEZONE", SANDBOX_TZ),
                            ("SMS_RATE_LIMIT", "none")):
            monkeypatch.setenv(name, value)
        state = SyncedSandbox(sb, server, data_dir)
        summary = state.sync(since=state.as_of() - timedelta(days=120))
        assert sum(summary["api"]["retries"].values()) > 0  # the error paths ran
        server.set_faults(Faults(http_5xx=1.0))  # a failed run: its error is logged, raised and recorded
        with pytest.raises(Exception) as failure:
            state.sync()
        errors.append("".join(traceback.format_exception(failure.value)) + repr(failure.value))
    out, err = capfd.readouterr()
    logs = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    for name in ("smsapi", "flows", "storage", "prefect"):
        logging.getLogger(name).removeHandler(caplog.handler)
    assert any("retry" in r.getMessage() for r in caplog.records)  # the error paths logged: a real test
    assert_key_absent("the logs", [logs.encode(), out.encode(), err.encode()], figures)
    assert_key_absent("an exception", [e.encode() for e in errors], figures)
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".jsonl.zst") for p in files) and any(p.suffix == ".parquet" for p in files)
    for path in files:
        assert_key_absent(str(path.relative_to(data_dir)), readable_forms(path), figures)


def test_tls_verification_is_on_by_default_and_no_code_turns_it_off():
    with SmsApi("https://api.example.invalid", "k" * 40) as api:
        assert api.session.verify is True
    # There is no setting to disable it: no source file of the pipeline passes verify= to requests.
    for package in ("smsapi", "flows", "storage", "smsetl"):
        for path in (ROOT / package).rglob("*.py"):
            assert "verify=" not in path.read_text() and ".verify =" not in path.read_text(), path
