"""Publishing the lake to S3 (storage/objectstore.py) against moto's server: what readers see, what is uploaded
and removed, and the errors a wrong setting gives. Plain functions, no flow."""

import pytest
from reliability_support import dump_warehouse
from s3_support import SECRET_ACCESS_KEY, object_keys, s3_client, write_lake

from storage import objectstore, warehouse
from storage.lake import Lake
from storage.objectstore import ObjectStore, ObjectStoreError, PublishedLake, publish


def published_rows(store, work_dir, sql: str) -> list[tuple]:
    con = PublishedLake(store, work_dir).connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


MESSAGE_IDS = "select message_id from messages order by 1"


def test_the_warehouse_built_from_the_published_lake_equals_the_one_built_from_the_local_lake(store, tmp_path):
    write_lake(tmp_path / "local" / "lake", [1, 2], {"2026-09": [10, 11], "2026-10": [12]})
    warehouse.build(Lake(tmp_path / "local" / "lake"), tmp_path / "local")
    done = publish(tmp_path / "local" / "lake", store)
    assert (done.files, done.uploaded, done.deleted) == (3, 3, 0)
    reader = tmp_path / "reader"  # another machine: no local lake at all
    reader.mkdir()
    warehouse.build(PublishedLake(store, reader), reader)
    expected = dump_warehouse(tmp_path / "local")
    assert expected["messages"] and expected["campaigns"]
    assert dump_warehouse(reader) == expected


def test_the_next_publish_patches_the_warehouse_built_from_the_published_lake(store, tmp_path, monkeypatch):
    monkeypatch.setattr(warehouse, "PATCH_AT_MOST", 1.0)  # a lake of a few rows: any run touches most of them
    lake = tmp_path / "local" / "lake"
    write_lake(lake, [1, 2], {"2026-09": [10, 11], "2026-10": [12]})
    publish(lake, store)
    reader, whole = tmp_path / "reader", tmp_path / "whole"
    reader.mkdir()
    whole.mkdir()
    assert not warehouse.build(PublishedLake(store, reader), reader).patched
    write_lake(lake, [1, 2], {"2026-09": [10, 11], "2026-10": [12, 13]})  # October's file alone changes
    publish(lake, store)
    built = warehouse.build(PublishedLake(store, reader), reader)
    assert built.patched, built.reason
    warehouse.build(PublishedLake(store, whole), whole, whole=True)
    assert dump_warehouse(reader) == dump_warehouse(whole)
    assert [r[0] for r in dump_warehouse(reader)["messages"]] == [10, 11, 12, 13]


def test_keys_are_named_by_content_so_unchanged_files_are_not_uploaded_again(store, tmp_path, s3_endpoint):
    lake = tmp_path / "lake"
    write_lake(lake, [1], {"2026-09": [10], "2026-10": [12]})
    publish(lake, store)
    again = publish(lake, store)
    assert (again.uploaded, again.deleted) == (0, 0)
    write_lake(lake, [1], {"2026-09": [10], "2026-10": [12, 13]})  # the same bytes but for one partition
    changed = publish(lake, store)
    assert changed.uploaded == 1
    keys = object_keys(s3_endpoint, store.bucket)
    assert "smsetl/lake/_manifest.json" in keys
    assert all(k.endswith(".parquet") and len(k.rsplit("/", 1)[1]) == 32 + len(".parquet")
               for k in keys - {"smsetl/lake/_manifest.json"})


def test_a_publish_reads_only_the_files_changed_since_the_last_one(store, tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    write_lake(lake, [1], {"2026-09": [10], "2026-10": [12]})
    read = []
    real_sha256 = objectstore._sha256
    monkeypatch.setattr(objectstore, "_sha256", lambda path: read.append(path.name) or real_sha256(path))
    publish(lake, store)
    assert len(read) == 3  # campaigns and two message partitions
    read.clear()
    assert publish(lake, store).uploaded == 0
    assert read == []  # nothing changed: no file read to name it
    write_lake(lake, [1], {"2026-09": [10], "2026-10": [12, 13]})  # rewrites every file, one with other bytes
    changed = publish(lake, store)
    assert len(read) == 3 and changed.uploaded == 1
    (tmp_path / objectstore.HASHES).write_text("{not json")  # a damaged cache: every file is hashed again
    read.clear()
    assert publish(lake, store).uploaded == 0 and len(read) == 3


def test_a_publish_killed_before_its_manifest_leaves_readers_the_previous_lake_whole(store, tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    write_lake(lake, [1], {"2026-10": [10, 11]})
    publish(lake, store)
    write_lake(lake, [1], {"2026-10": [10, 11, 12], "2026-11": [13]})

    def killed(*args):
        raise OSError("the publish was killed here")

    monkeypatch.setattr(objectstore, "_write_manifest", killed)
    with pytest.raises(ObjectStoreError):
        publish(lake, store)  # the new files are uploaded, the manifest is not
    assert published_rows(store, tmp_path, MESSAGE_IDS) == [(10,), (11,)]
    monkeypatch.undo()
    publish(lake, store)
    assert published_rows(store, tmp_path, MESSAGE_IDS) == [(10,), (11,), (12,), (13,)]


def test_a_reader_holding_the_previous_manifest_can_still_read_it_after_the_next_publish(store, tmp_path):
    lake = tmp_path / "lake"
    write_lake(lake, [1], {"2026-10": [10]})
    publish(lake, store)
    reader = PublishedLake(store, tmp_path)  # takes the manifest now
    write_lake(lake, [1], {"2026-10": [10, 11]})
    publish(lake, store)
    con = reader.connect()
    try:
        assert con.execute(MESSAGE_IDS).fetchall() == [(10,)]
    finally:
        con.close()


def test_replaced_and_stray_objects_are_removed_and_other_prefixes_are_left_alone(store, tmp_path, s3_endpoint):
    client = s3_client(s3_endpoint)
    lake = tmp_path / "lake"
    write_lake(lake, [1], {"2026-10": [10]})
    publish(lake, store)
    first = object_keys(s3_endpoint, store.bucket)
    # What a publish killed before its manifest leaves, and a neighbour whose prefix starts like ours.
    stray = "smsetl/lake/messages/month=2026-10/0123456789abcdef0123456789abcdef.parquet"
    neighbour = "smsetl/lake-other/campaigns/data.parquet"
    for key in (stray, neighbour):
        client.put_object(Bucket=store.bucket, Key=key, Body=b"not ours")
    write_lake(lake, [1], {"2026-10": [10, 11]})
    second = publish(lake, store)
    assert second.deleted == 1  # the stray; the first manifest's files are kept one publish more
    keys = object_keys(s3_endpoint, store.bucket)
    assert stray not in keys and neighbour in keys and first <= keys
    kept = named(store.read_manifest())
    write_lake(lake, [1], {"2026-10": [10, 11, 12]})
    publish(lake, store)
    keys = object_keys(s3_endpoint, store.bucket)
    replaced = {k for k in first if "month=2026-10" in k}
    assert replaced and not replaced & keys  # two publishes later, the first one's month file is gone
    assert keys == {"smsetl/lake/_manifest.json", neighbour} | named(store.read_manifest()) | kept


def named(manifest: dict) -> set[str]:
    return {f"smsetl/lake/{k}" for keys in manifest["tables"].values() for k in keys}


def test_a_publish_that_keeps_nothing_of_the_previous_lake_deletes_its_files_at_once(store, tmp_path, s3_endpoint):
    lake = tmp_path / "lake"
    write_lake(lake, [1], {"2026-10": [10]})  # say, recipients in clear
    publish(lake, store)
    write_lake(lake, [1], {"2026-10": [11]})  # converted
    publish(lake, store, keep_previous=False)
    assert object_keys(s3_endpoint, store.bucket) == {"smsetl/lake/_manifest.json"} | named(store.read_manifest())


def test_wrong_credentials_name_the_variables_to_fix_and_never_the_secret(store, monkeypatch):
    from moto import settings as moto_settings

    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # moto checks keys from now on
    with pytest.raises(ObjectStoreError) as raised:
        store.check()
    message = str(raised.value)
    assert "AWS_ACCESS_KEY_ID" in message and "AWS_SECRET_ACCESS_KEY" in message
    assert SECRET_ACCESS_KEY not in message and SECRET_ACCESS_KEY not in repr(store)


def test_an_unreachable_endpoint_names_aws_endpoint_url(tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = ObjectStore("s3://lake/x", "AKIASMSETLTEST0000001", SECRET_ACCESS_KEY, f"http://127.0.0.1:{port}")
    with pytest.raises(ObjectStoreError, match="AWS_ENDPOINT_URL") as raised:
        publish(tmp_path, store)
    assert SECRET_ACCESS_KEY not in str(raised.value)


def test_a_missing_bucket_names_sms_lake_url_and_an_empty_prefix_says_to_sync_first(store, s3_endpoint, tmp_path):
    from s3_support import ACCESS_KEY_ID

    missing = ObjectStore("s3://no-such-bucket/x", ACCESS_KEY_ID, SECRET_ACCESS_KEY, s3_endpoint)
    with pytest.raises(ObjectStoreError, match="SMS_LAKE_URL"):
        missing.check()
    with pytest.raises(ObjectStoreError, match="smsetl sync --lake-url"):
        PublishedLake(store, tmp_path)


def test_a_bad_lake_url_or_half_a_key_pair_is_a_settings_error_naming_the_variable():
    from flows.settings import SettingsError, load

    with pytest.raises(SettingsError, match="SMS_LAKE_URL='https://bucket/x'.*s3://BUCKET/PREFIX"):
        load(lake_url="https://bucket/x")
    with pytest.raises(SettingsError, match="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together"):
        load(lake_url="s3://bucket/x", aws_access_key_id="AKIA", aws_secret_access_key="").object_store()
    settings = load(lake_url="s3://bucket/x", aws_access_key_id="AKIA", aws_secret_access_key=SECRET_ACCESS_KEY)
    assert SECRET_ACCESS_KEY not in repr(settings) and SECRET_ACCESS_KEY not in repr(settings.object_store())


def test_sync_with_a_wrong_endpoint_stops_before_anything_starts_and_writes_nothing(tmp_path, capsys, monkeypatch):
    from smsetl.cli import main

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASMSETLTEST0000001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    data_dir = tmp_path / "data"
    code = main(["sync", "--lake-url", "s3://lake/x", "--data-dir", str(data_dir),
                 "--api-url", "http://127.0.0.1:9", "--timezone", "Asia/Almaty"])
    err = capsys.readouterr().err
    assert code == 2 and "AWS_ENDPOINT_URL" in err and SECRET_ACCESS_KEY not in err
    assert not data_dir.exists()


def test_each_account_of_an_accounts_file_publishes_under_its_own_prefix(monkeypatch, tmp_path):
    from flows.account_config import Account
    from flows.accounts import account_settings
    from flows.settings import load

    monkeypatch.setenv("ACME_SMS_API_KEY", "acme-key-000000000000000000000000000000")
    account = Account("acme", "http://127.0.0.1:9", "Asia/Almaty", key_env="ACME_SMS_API_KEY")
    assert account_settings(load(lake_url="s3://lake/agency/"), account, tmp_path).lake_url == \
        "s3://lake/agency/accounts/acme"
    monkeypatch.delenv("SMS_LAKE_URL", raising=False)
    assert account_settings(load(), account, tmp_path).object_store() is None
