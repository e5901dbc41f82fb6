"""Helpers for tests/s3 (not in conftest.py: a second `conftest` module would shadow tests/sql's, which its
tests import by that name). The secret key is distinctive, so tests can look for it everywhere."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ACCESS_KEY_ID = "AKIASMSETLTEST0000001"
SECRET_ACCESS_KEY = "s3cret-SMSETL-never-logged-0123456789abcd"
REGION = "us-east-1"


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY_ID,
                        aws_secret_access_key=SECRET_ACCESS_KEY, region_name=REGION)


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

