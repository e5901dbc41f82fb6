"""An account whose key is in a Prefect Secret block (`key_secret_block`): created on the session's Prefect
server, read where the account's task runs; the key appears nowhere under the data directory nor in the
command's output. A missing block names itself and how to create it."""

import contextlib
import io
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from e2e_support import SANDBOX_NOW, SANDBOX_TZ

KEY = "vault" + "7" * 35
BLOCK = "smsetl-test-acme-key"


def contents(path: Path) -> bytes:
    """The file's bytes, and what compression hides in them: raw parts decompressed, Parquet and DuckDB files
    read back as text (both compress strings)."""
    data = path.read_bytes()
    if path.name.endswith(".zst"):
        with pa.CompressedInputStream(str(path), "zstd") as stream:
            data += stream.read()
    elif path.suffix == ".parquet":
        data += repr(pq.read_table(path).to_pylist()).encode()
    elif path.suffix == ".duckdb":
        con = duckdb.connect(str(path), read_only=True)
        try:
            for schema, table in con.execute("select table_schema, table_name from information_schema.tables"
                                             ).fetchall():
                data += repr(con.execute(f'select * from "{schema}"."{table}"').fetchall()).encode()
        finally:
            con.close()
    return data


def test_a_key_from_a_secret_block_syncs_the_account_and_is_written_nowhere(prefect_harness, tmp_path, monkeypatch):
    from prefect.blocks.system import Secret

    from sandbox import Faults, Sandbox
    from smsetl import cli

    Secret(value=KEY).save(BLOCK, overwrite=True)
    sb = Sandbox.generate(seed=51, campaigns=3, messages=200, now=SANDBOX_NOW, timezone=SANDBOX_TZ)
    sb.api_key = KEY
    monkeypatch.delenv("SMS_API_KEY", raising=False)
    monkeypatch.setenv("SMS_RATE_LIMIT", "none")
    with sb.serve(port=0, faults=Faults()) as server:
        (tmp_path / "agency.toml").write_text(f"""
[[account]]
name = "acme"
api_url = "{server.url}"
key_secret_block = "{BLOCK}"
timezone = "{SANDBOX_TZ}"
""")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["sync", "--accounts", str(tmp_path / "agency.toml"), "--data-dir",
                             str(tmp_path / "data"), "--since", "2026-05-01"])
    assert code == 0, err.getvalue()
    assert "acme: synced in" in out.getvalue()
    assert KEY not in out.getvalue() + err.getvalue()
    files = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert any(p.name == "warehouse.duckdb" for p in files) and len(files) > 10
    assert any(p.name.endswith(".jsonl.zst") for p in files) and any(p.suffix == ".parquet" for p in files)
    scanned = b"".join(contents(path) for path in files)
    assert b'"method":"Campaign/List"' in scanned  # the scan sees inside the compressed raw parts
    for path in files:
        assert KEY.encode() not in contents(path), path
    con = duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from messages where account = 'acme'").fetchone()[0] > 50
    finally:
        con.close()


def test_a_missing_secret_block_is_named_with_how_to_create_it(prefect_harness):
    from flows.account_config import Account, AccountConfigError, resolve_key

    account = Account(name="acme", api_url="https://api.mobizon.kz", timezone=SANDBOX_TZ,
                      key_secret_block="no-such-smsetl-block")
    with pytest.raises(AccountConfigError) as caught:
        resolve_key(account)
    message = str(caught.value)
    assert message.startswith("account 'acme': no Prefect Secret block 'no-such-smsetl-block' on the Prefect server")
    assert "Secret(value='...').save('no-such-smsetl-block')" in message
