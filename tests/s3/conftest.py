"""tests/s3: the lake published to an S3 emulator, moto's server on 127.0.0.1 (one for the session), with a
fresh bucket per test and the AWS_* variables pointing at it. The secret key is distinctive, so that tests can
look for it in every file, object, log line and error."""

import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reliability"))  # dump_warehouse, small_sandbox

ACCESS_KEY_ID = "AKIASMSETLTEST0000001"
SECRET_ACCESS_KEY = "s3cret-SMSETL-never-logged-0123456789abcd"
REGION = "us-east-1"


@pytest.fixture(scope="session")
def s3_endpoint():
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY_ID,
                        aws_secret_access_key=SECRET_ACCESS_KEY, region_name=REGION)


@pytest.fixture
def bucket(s3_endpoint, monkeypatch) -> str:
    """A new, empty bucket; the AWS_* variables the settings read point at the emulator."""
    name = f"lake-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_REGION", REGION)
    return name


@pytest.fixture
def store(bucket, s3_endpoint):
    from storage.objectstore import ObjectStore

    return ObjectStore(f"s3://{bucket}/smsetl/lake", ACCESS_KEY_ID, SECRET_ACCESS_KEY, s3_endpoint, REGION)


def object_keys(endpoint: str, bucket: str) -> set[str]:
    """The bucket's objects, less the empty folder markers (`.../`) pyarrow leaves when it deletes a file."""
    pages = s3_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", []) if not item["Key"].endswith("/")}


def write_lake(root: Path, campaigns: list[int], messages: dict[str, list[int]]) -> None:
    """A small lake as the merge lays it out: `campaigns/data.parquet`, and `messages/month=M/data.parquet` with
    the message ids of each month (campaign 1 for every message); other columns NULL."""
    from transforms import ARROW_SCHEMAS

    def write(table: str, path: Path, **columns) -> None:
        schema = ARROW_SCHEMAS[table]
        n = len(next(iter(columns.values())))
        arrays = [pa.array(columns[f.name], f.type) if f.name in columns else pa.nulls(n, f.type) for f in schema]
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path, compression="zstd")

    write("campaigns", root / "campaigns" / "data.parquet", campaign_id=campaigns)
    for month, ids in messages.items():
        write("messages", root / "messages" / f"month={month}" / "data.parquet", message_id=ids,
              campaign_id=[campaigns[0]] * len(ids), status=["DELIVRD"] * len(ids))


FIGURES: dict[str, object] = {}


@pytest.fixture
def figures() -> dict:
    """Figures to print after the run: `figures["publish seconds, backfill: local"] = 0.9`."""
    return FIGURES


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("S3 lake figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value:.2f}" if isinstance(value, float) else f"{name}: {value}")
