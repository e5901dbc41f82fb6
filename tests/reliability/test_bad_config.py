"""Bad configuration, through the real CLI: each mistake exits non-zero at once, with a message saying what to
fix, and writes nothing into the data directory."""

import os
import time

import pytest
from e2e_support import SANDBOX_TZ
from reliability_support import run_cli, small_sandbox

from sandbox import SANDBOX_API_KEY, Faults

QUICK_SECONDS = 30  # a subprocess start with imports; no retries, no Prefect server


def listing(data_dir):
    return sorted((str(p.relative_to(data_dir)), p.stat().st_size) for p in data_dir.rglob("*"))


def sync_cli(data_dir, env, *args):
    started = time.monotonic()
    result = run_cli("sync", "--data-dir", str(data_dir), *args, env={"SMS_TIMEZONE": SANDBOX_TZ, **env})
    return result, time.monotonic() - started


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    path.mkdir()
    return path


def assert_refused(result, seconds, data_dir, before, *fix):
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    for words in fix:
        assert words in result.stderr, result.stderr
    assert seconds < QUICK_SECONDS
    assert listing(data_dir) == before


def test_a_wrong_key_exits_non_zero_naming_code_8_and_SMS_API_KEY_and_writes_nothing(data_dir, figures):
    before = listing(data_dir)
    with small_sandbox(41).serve(port=0, faults=Faults()) as server:
        result, seconds = sync_cli(data_dir, {"SMS_API_URL": server.url, "SMS_API_KEY": "wrong" + "7" * 35})
    figures["bad configurations tried"] += 1
    assert_refused(result, seconds, data_dir, before, "API code 8", "SMS_API_KEY")


def test_a_blocked_account_exits_non_zero_naming_code_14_and_the_gateways_support(data_dir, figures):
    sb = small_sandbox(42)
    sb.blocked = True
    before = listing(data_dir)
    with sb.serve(port=0, faults=Faults()) as server:
        result, seconds = sync_cli(data_dir, {"SMS_API_URL": server.url, "SMS_API_KEY": SANDBOX_API_KEY})
    figures["bad configurations tried"] += 1
    assert_refused(result, seconds, data_dir, before, "API code 14", "support")


def test_an_unknown_time_zone_exits_non_zero_naming_the_zone_and_SMS_TIMEZONE(data_dir, figures):
    before = listing(data_dir)
    result, seconds = sync_cli(data_dir, {"SMS_API_URL": "http://127.0.0.1:9", "SMS_API_KEY": SANDBOX_API_KEY,
                                          "SMS_TIMEZONE": "Mars/Olympus"})
    figures["bad configurations tried"] += 1
    assert_refused(result, seconds, data_dir, before, "Mars/Olympus", "SMS_TIMEZONE")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root reads a chmod 000 directory anyway, so the mistake cannot be made as root")
def test_an_unreadable_data_directory_exits_non_zero_naming_the_directory(data_dir, figures):
    before = listing(data_dir)
    with small_sandbox(43).serve(port=0, faults=Faults()) as server:
        data_dir.chmod(0)
        try:
            result, seconds = sync_cli(data_dir, {"SMS_API_URL": server.url, "SMS_API_KEY": SANDBOX_API_KEY})
        finally:
            data_dir.chmod(0o755)
    figures["bad configurations tried"] += 1
    assert_refused(result, seconds, data_dir, before, str(data_dir), "permission")


def test_since_after_until_exits_non_zero_naming_both_flags(data_dir, figures):
    before = listing(data_dir)
    with small_sandbox(44).serve(port=0, faults=Faults()) as server:
        result, seconds = sync_cli(data_dir, {"SMS_API_URL": server.url, "SMS_API_KEY": SANDBOX_API_KEY},
                                   "--since", "2026-10-01", "--until", "2026-09-01")
    figures["bad configurations tried"] += 1
    assert_refused(result, seconds, data_dir, before, "--since", "--until")
