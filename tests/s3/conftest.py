"""tests/s3: the lake published to an S3 emulator, moto's server on 127.0.0.1 (one for the session), with a
fresh bucket per test and the AWS_* variables pointing at it (helpers: s3_support.py)."""

import sys
import uuid
from pathlib import Path

import pytest
from s3_support import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, s3_client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reliability"))  # dump_warehouse, small_sandbox

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
