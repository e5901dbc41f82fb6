"""SMS_PII and its key: read at once, a key file made once (0600) and reused, a data directory's mode held to."""

import json
import stat
from datetime import UTC, datetime

import pytest

from flows import privacy, steps
from smsetl.cli import main
from storage import raw
from transforms.pii import PiiPolicy, hash_recipient

KEY_TEXT = "a-test-key-that-is-long-enough"


@pytest.fixture
def key_path(tmp_path, monkeypatch):
    path = tmp_path / "config" / "smsetl" / "pii-key"
    monkeypatch.setenv("SMS_PII_KEY_FILE", str(path))
    monkeypatch.delenv("SMS_PII_KEY", raising=False)
    monkeypatch.delenv("SMS_PII", raising=False)
    return path


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def write_raw_messages(data_dir, run_id, numbers):
    with raw.RawWriter(data_dir / "raw", "messages", run_id) as writer:
        writer.write("Message/List", {}, "2026-11-01T00:00:00+00:00", [{"id": str(i), "to": n}
                                                                       for i, n in enumerate(numbers)])


def test_the_mode_is_hash_unless_sms_pii_says_otherwise(key_path, monkeypatch):
    assert privacy.mode_from_env() == ("hash", False)
    monkeypatch.setenv("SMS_PII", "Drop")
    assert privacy.mode_from_env() == ("drop", True)


def test_an_unknown_mode_is_refused_naming_the_allowed_ones(key_path, monkeypatch):
    monkeypatch.setenv("SMS_PII", "mask")
    with pytest.raises(privacy.PiiError, match="hash, keep, drop"):
        privacy.mode_from_env()


def test_the_cli_exits_at_once_on_an_unknown_mode_in_the_flag_or_the_environment(key_path, monkeypatch, capsys,
                                                                                 data_dir):
    with pytest.raises(SystemExit) as exit_info:
        main(["sync", "--pii", "mask", "--data-dir", str(data_dir)])
    assert exit_info.value.code == 2
    assert "'hash', 'keep', 'drop'" in capsys.readouterr().err
    monkeypatch.setenv("SMS_PII", "mask")
    for command in ("sync", "rebuild", "demo"):
        assert main([command, "--data-dir", str(data_dir)]) == 2
        assert "use one of hash, keep, drop" in capsys.readouterr().err
    assert not data_dir.exists()


def test_the_key_file_is_made_once_with_mode_0600_and_reused(key_path):
    assert privacy.load_key(create=False) is None and not key_path.exists()
    key = privacy.load_key(create=True)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    assert len(key) >= 32
    assert privacy.load_key(create=True) == key == privacy.load_key(create=False)
    assert [p.name for p in key_path.parent.iterdir()] == ["pii-key"]  # no temporary file left


def test_a_key_made_by_another_thread_meanwhile_is_the_one_both_use(key_path, monkeypatch):
    import os

    link, made_meanwhile = os.link, []

    def link_after_another_thread(source, target):  # another thread of this process makes the key first
        if not made_meanwhile:
            made_meanwhile.append(True)
            privacy._create_key_file(key_path)
        link(source, target)

    monkeypatch.setattr(os, "link", link_after_another_thread)
    key = privacy.load_key(create=True)  # its own link finds the file made: it takes that one
    assert made_meanwhile and key == key_path.read_text().strip().encode()
    assert [p.name for p in key_path.parent.iterdir()] == ["pii-key"]


def test_the_default_key_file_is_under_xdg_config_home_not_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("SMS_PII_KEY_FILE")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert privacy.key_file() == tmp_path / "xdg" / "smsetl" / "pii-key"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert privacy.key_file().parts[-3:] == (".config", "smsetl", "pii-key")


def test_sms_pii_key_wins_over_the_file_and_makes_none(key_path, monkeypatch):
    monkeypatch.setenv("SMS_PII_KEY", KEY_TEXT)
    assert privacy.load_key(create=True) == KEY_TEXT.encode()
    assert not key_path.exists()


def test_a_short_key_is_refused_without_showing_it(key_path, monkeypatch):
    monkeypatch.setenv("SMS_PII_KEY", "short-secret")
    with pytest.raises(privacy.PiiError) as error:
        privacy.load_key(create=True)
    assert "short-secret" not in str(error.value)


def test_the_first_sync_records_the_mode_and_a_key_id_never_the_key(key_path, data_dir, monkeypatch):
    monkeypatch.setenv("SMS_PII_KEY", KEY_TEXT)
    policy = privacy.for_sync(data_dir)
    assert policy == PiiPolicy("hash", KEY_TEXT.encode())
    record = (data_dir / privacy.RECORD_FILE).read_text()
    assert json.loads(record) == {"mode": "hash", "key_id": privacy.key_id(KEY_TEXT.encode())}
    assert KEY_TEXT not in record
    assert privacy.for_sync(data_dir).key == KEY_TEXT.encode()  # the same again


def test_a_sync_in_another_mode_is_refused_and_told_how_to_convert(key_path, data_dir, monkeypatch):
    monkeypatch.setenv("SMS_PII", "keep")
    privacy.for_sync(data_dir)
    monkeypatch.setenv("SMS_PII", "hash")
    with pytest.raises(privacy.PiiError, match="smsetl rebuild --pii hash"):
        privacy.check_sync(data_dir)
    with pytest.raises(privacy.PiiError, match="smsetl rebuild --pii hash"):
        privacy.for_sync(data_dir)
    assert json.loads((data_dir / privacy.RECORD_FILE).read_text())["mode"] == "keep"


def test_a_sync_asking_for_a_weaker_mode_is_told_the_numbers_are_gone(key_path, data_dir, monkeypatch):
    monkeypatch.setenv("SMS_PII", "drop")
    privacy.for_sync(data_dir)
    monkeypatch.setenv("SMS_PII", "keep")
    with pytest.raises(privacy.PiiError, match="cannot be restored"):
        privacy.for_sync(data_dir)


def test_a_sync_with_another_key_is_refused_and_a_lost_key_is_not_replaced(key_path, data_dir, monkeypatch):
    privacy.for_sync(data_dir)  # makes the key file
    monkeypatch.setenv("SMS_PII_KEY", KEY_TEXT)
    with pytest.raises(privacy.PiiError, match="key id") as error:
        privacy.for_sync(data_dir)
    assert KEY_TEXT not in str(error.value)
    monkeypatch.delenv("SMS_PII_KEY")
    key_path.unlink()
    with pytest.raises(privacy.PiiError, match="restore the key"):
        privacy.for_sync(data_dir)
    assert not key_path.exists()


def test_a_data_directory_from_before_sms_pii_holds_numbers_in_clear(key_path, data_dir, monkeypatch):
    write_raw_messages(data_dir, "r1", ["77011234567"])
    assert privacy.held(data_dir) == privacy.Held("keep", legacy=True)
    with pytest.raises(privacy.PiiError, match="smsetl rebuild --pii hash"):
        privacy.for_sync(data_dir)
    monkeypatch.setenv("SMS_PII", "keep")
    assert privacy.for_sync(data_dir).mode == "keep"
    assert privacy.held(data_dir) == privacy.Held("keep")


def test_a_rebuild_converts_only_to_a_stronger_mode_asked_for_by_name(key_path, data_dir, monkeypatch):
    write_raw_messages(data_dir, "r1", ["77011234567"])
    with pytest.raises(privacy.PiiError, match="pass --pii hash"):
        privacy.for_rebuild(data_dir)  # the default alone never converts
    monkeypatch.setenv("SMS_PII", "hash")
    policy, converting_from = privacy.for_rebuild(data_dir)
    assert (policy.mode, converting_from) == ("hash", "keep")
    with pytest.raises(privacy.PiiError, match="interrupted"):  # recorded as begun: syncs wait for it
        privacy.for_sync(data_dir)
    assert privacy.for_rebuild(data_dir) == (policy, "keep")  # running it again finishes it
    privacy.finish_conversion(data_dir, policy)
    assert privacy.for_rebuild(data_dir) == (policy, None)
    monkeypatch.setenv("SMS_PII", "keep")
    with pytest.raises(privacy.PiiError, match="cannot be brought back"):
        privacy.for_rebuild(data_dir)


def test_raw_rewrite_changes_the_parts_that_change_and_deletes_leftovers(key_path, data_dir):
    write_raw_messages(data_dir, "r1", ["77011234567", None])
    write_raw_messages(data_dir, "r2", [])
    leftover = data_dir / "raw" / "messages" / "run=r3" / "part-1.jsonl.zst.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"77011234567 from a killed run")
    policy = PiiPolicy("hash", KEY_TEXT.encode())

    def change(record):
        return {**record, "data": policy.protect_messages(record["data"])}

    assert raw.rewrite(data_dir / "raw", "messages", change) == 1
    assert not leftover.exists()
    [record] = raw.read(data_dir / "raw", "messages", "r1")
    assert record["data"] == [{"id": "0", "to": hash_recipient("77011234567", KEY_TEXT.encode())},
                              {"id": "1", "to": None}]
    assert raw.rewrite(data_dir / "raw", "messages", change) == 0  # already converted


def test_messages_are_not_extracted_by_a_run_without_a_pii_mode(data_dir):
    run = steps.RunContext(data_dir, "r1", datetime(2026, 11, 1, tzinfo=UTC), "Asia/Almaty")
    with pytest.raises(RuntimeError, match="no PII mode"):
        with steps.Extractor(run, steps.Stager(run.staging_dir), "messages", "Message/List") as ex:
            ex.take({}, [{"id": "1", "to": "77011234567"}])
    assert not (data_dir / "raw").exists()  # refused before anything was written
