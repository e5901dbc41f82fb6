"""The lake published to S3-compatible object storage, and read back from it by the warehouse.

The local lake (`<data>/lake`) stays the working copy: a merge rewrites partitions in place and renames files,
which object storage cannot do atomically. After a run is merged and recorded, `publish` copies the lake to
`s3://BUCKET/PREFIX/` in three steps:
1. every Parquet file under a content-named key, `<table>/[month=YYYY-MM/]<sha256, 32 hex>.parquet`: a file
   unchanged since the last publish keeps its key and is not uploaded again (an incremental sync rewrites a few
   partitions, so it uploads a few files), and an object is never overwritten with other bytes. The hashes are
   kept beside the lake (`.lake-hashes.json`) by file size, mtime and inode, so a publish reads only the files
   a run rewrote, not the whole lake;
2. `_manifest.json` LAST, in one PUT (atomic in S3): the keys of every table. Readers follow only the manifest,
   never a listing, so a publish killed half-way leaves them the previous lake, whole;
3. then the objects named by neither the new manifest nor the previous one are deleted: files an older publish
   replaced, or that a killed publish uploaded and never named. The previous manifest's files survive one
   publish more, so a reader that took that manifest just before can still read what it names (but for a
   conversion to a stronger `SMS_PII` mode, whose old files must go at once).

`PublishedLake` is the lake as the manifest names it, for `storage.warehouse.build`: DuckDB reads the `s3://`
files through pyarrow's S3 filesystem, registered with DuckDB as an fsspec filesystem (DuckDB's own httpfs
extension is downloaded on first use, which an offline machine cannot do).

One writer per prefix: the sync lock is local, so two machines must not publish to the same prefix.
Errors are `ObjectStoreError`s naming the setting to fix; the secret key never appears in one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from storage.lake import DEFAULT_DUCKDB_MEMORY, Lake, file_identity

MANIFEST = "_manifest.json"
HASHES = ".lake-hashes.json"  # beside the lake, in the data directory: the last publish's content hashes
MANIFEST_FORMAT = 1
_CHUNK = 8 << 20
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_UPLOAD_THREADS = 8


class ObjectStoreError(RuntimeError):
    """The object store refused or could not be reached; the message names the setting to fix."""


def parse_lake_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix"); anything else raises ValueError saying what to write."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not _BUCKET.fullmatch(parts.netloc) or parts.query or parts.fragment:
        raise ValueError("not an S3 lake URL: write s3://BUCKET/PREFIX (a bucket name of 3 to 63 "
                         "lower-case letters, digits, dots and hyphens; the prefix optional)")
    return parts.netloc, parts.path.strip("/")


@dataclass(frozen=True)
class ObjectStore:
    """Where the lake is published and how to reach it. An empty endpoint is AWS itself; empty keys use the
    default AWS credential chain (an instance role, say)."""

    url: str
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    endpoint_url: str = ""
    region: str = ""

    def __post_init__(self):
        parse_lake_url(self.url)
        if self.endpoint_url and urlsplit(self.endpoint_url).scheme not in ("http", "https"):
            raise ValueError(f"AWS_ENDPOINT_URL={self.endpoint_url!r}: write http://HOST:PORT or https://HOST")
        if bool(self.access_key_id) != bool(self.secret_access_key):
            raise ValueError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together: set both, or neither "
                             "(the default AWS credential chain)")

    @property
    def bucket(self) -> str:
        return parse_lake_url(self.url)[0]

    @property
    def prefix(self) -> str:
        return parse_lake_url(self.url)[1]

    def path(self, key: str) -> str:
        """`bucket/prefix/key`, the form pyarrow's filesystem takes."""
        return "/".join(p for p in (self.bucket, self.prefix, key) if p)

    def filesystem(self) -> pafs.S3FileSystem:
        options = dict(region=self.region or "us-east-1", connect_timeout=5, request_timeout=60,
                       retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=3))
        if self.access_key_id:
            options.update(access_key=self.access_key_id, secret_key=self.secret_access_key)
        if self.endpoint_url:
            endpoint = urlsplit(self.endpoint_url)
            options.update(endpoint_override=endpoint.netloc + endpoint.path.rstrip("/"), scheme=endpoint.scheme)
        return pafs.S3FileSystem(**options)

    def error(self, exc: Exception, doing: str) -> ObjectStoreError:
        """`exc` (pyarrow's OSError) as an error naming the setting to fix, the secret key redacted."""
        text = str(exc)
        if self.secret_access_key:
            text = text.replace(self.secret_access_key, "**********")
        where = self.endpoint_url or "AWS S3"
        if re.search(r"NETWORK_CONNECTION|curlCode|connect to server|Connection refused|timed out|"
                     r"resolve host", text, re.I):
            fix = f"cannot reach the object store at {where}: check AWS_ENDPOINT_URL (and that the store is up)"
        elif re.search(r"ACCESS_DENIED|AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|INVALID_ACCESS_KEY|"
                       r"SIGNATURE_DOES_NOT_MATCH|HTTP response code 403|Forbidden", text, re.I):
            fix = (f"the object store at {where} refused the credentials: check AWS_ACCESS_KEY_ID and "
                   "AWS_SECRET_ACCESS_KEY (and that they may read and write the bucket)")
        elif re.search(r"NO_SUCH_BUCKET|NoSuchBucket|bucket does not exist|Bucket '.*' not found", text, re.I):
            fix = f"no bucket {self.bucket!r} at {where}: create it, or fix the bucket in SMS_LAKE_URL"
        else:
            fix = f"the object store at {where} failed: check SMS_LAKE_URL, AWS_ENDPOINT_URL and AWS_REGION"
        return ObjectStoreError(f"{doing} {self.url}: {fix} ({text})")

    def check(self) -> None:
        """Fail now, with the setting to fix, if the bucket cannot be reached with these credentials."""
        try:
            info = self.filesystem().get_file_info(self.bucket)
        except OSError as exc:
            raise self.error(exc, "checking") from None
        if info.type == pafs.FileType.NotFound:
            raise ObjectStoreError(f"checking {self.url}: no bucket {self.bucket!r} at "
                                   f"{self.endpoint_url or 'AWS S3'}: create it, or fix the bucket in SMS_LAKE_URL")

    def read_manifest(self, fs: pafs.S3FileSystem | None = None) -> dict | None:
        """The published manifest, or None before the first publish."""
        fs = fs or self.filesystem()
        try:
            with fs.open_input_stream(self.path(MANIFEST)) as stream:
                return json.loads(stream.read())
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self.error(exc, "reading the manifest of") from None


@dataclass
class Published:
    """What one publish did."""

    files: int = 0  # files the manifest names
    uploaded: int = 0
    uploaded_bytes: int = 0
    deleted: int = 0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def content_key(lake_root: Path, path: Path, known: dict | None = None) -> str:
    """The object key of a lake file: its table and partition folders, then its content's hash. `known`: the
    hashes of the last publish by relative path (`_load_hashes`); a file whose size, mtime and inode are
    unchanged keeps its hash unread (the lake's files are replaced by renames, never rewritten in place), so a
    publish reads only what the run changed. It is updated with this file's."""
    relative = path.relative_to(lake_root).as_posix()
    identity = file_identity(path)
    entry = (known or {}).get(relative)
    digest = entry[1] if entry and entry[0] == identity else _sha256(path)[:32]
    if known is not None:
        known[relative] = [identity, digest]
    return f"{path.parent.relative_to(lake_root).as_posix()}/{digest}.parquet"


def _hashes_path(lake_root: Path) -> Path:
    return lake_root.parent / HASHES


def _load_hashes(lake_root: Path) -> dict:
    """The content hashes of the last publish (a cache: anything unreadable means hashing every file again)."""
    try:
        hashes = json.loads(_hashes_path(lake_root).read_text())
        return hashes if isinstance(hashes, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_hashes(lake_root: Path, hashes: dict) -> None:
    path = _hashes_path(lake_root)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(hashes))
    os.replace(tmp, path)


def publish(lake_root: Path, store: ObjectStore, keep_previous: bool = True) -> Published:
    """Publish the local lake under `lake_root` to `store`: new files, then the manifest, then the orphans'
    removal (see the module docstring). `keep_previous=False` deletes the previous manifest's files at once, for
    a lake whose old files must not survive (recipients' numbers converted to a stronger `SMS_PII` mode)."""
    fs = store.filesystem()
    previous = store.read_manifest(fs) or {"tables": {}}
    tables: dict[str, list[str]] = {}
    local: dict[str, Path] = {}
    known = _load_hashes(lake_root)
    paths = sorted(lake_root.rglob("*.parquet"))
    for path in paths:
        key = content_key(lake_root, path, known)
        tables.setdefault(path.relative_to(lake_root).parts[0], []).append(key)
        local[key] = path
    try:
        existing = {info.path: info.size for info in fs.get_file_info(pafs.FileSelector(
            store.path(""), recursive=True, allow_not_found=True)) if info.type == pafs.FileType.File}
    except OSError as exc:
        raise store.error(exc, "listing") from None
    result = Published(files=len(local))
    missing = [key for key, path in local.items() if existing.get(store.path(key)) != path.stat().st_size]

    def upload(key: str) -> int:
        with open(local[key], "rb") as source, fs.open_output_stream(store.path(key)) as out:
            while chunk := source.read(_CHUNK):
                out.write(chunk)
        return local[key].stat().st_size

    try:
        with ThreadPoolExecutor(_UPLOAD_THREADS) as pool:
            result.uploaded_bytes = sum(pool.map(upload, missing))
        result.uploaded = len(missing)
        _write_manifest(fs, store, {"format": MANIFEST_FORMAT, "tables": tables})
    except OSError as exc:
        raise store.error(exc, "publishing the lake to") from None
    kept = [*tables.values(), *(previous["tables"].values() if keep_previous else ())]
    keep = {store.path(MANIFEST)} | {store.path(k) for keys in kept for k in keys}
    orphans = sorted(set(existing) - keep)
    try:
        for path in orphans:
            fs.delete_file(path)
    except OSError as exc:
        raise store.error(exc, "removing replaced files from") from None
    result.deleted = len(orphans)
    # only this lake's files: a removed file's entry goes with it
    _save_hashes(lake_root, {rel: known[rel] for rel in (p.relative_to(lake_root).as_posix() for p in paths)})
    return result


def _write_manifest(fs: pafs.S3FileSystem, store: ObjectStore, manifest: dict) -> None:
    """One PUT of the whole manifest: S3 replaces an object atomically, so readers see the old one or this."""
    with fs.open_output_stream(store.path(MANIFEST)) as out:
        out.write(json.dumps(manifest, indent=1, sort_keys=True).encode())


class PublishedLake(Lake):
    """The lake as the manifest published at `store` names it, read-only; fixed when made (one snapshot).

    Its files are `s3://` URLs that a DuckDB connection reads once `prepare(con)` registered the store there
    (`Lake.connect` and `storage.warehouse.build` call it); `work_dir` holds DuckDB's spill folder."""

    def __init__(self, store: ObjectStore, work_dir: Path, memory_limit: str = DEFAULT_DUCKDB_MEMORY):
        super().__init__(work_dir / "lake", memory_limit)
        self.store = store
        manifest = store.read_manifest()
        if manifest is None:
            raise ObjectStoreError(f"nothing is published at {store.url} (no {MANIFEST}): run `smsetl sync "
                                   "--lake-url` first, or fix SMS_LAKE_URL")
        if manifest.get("format") != MANIFEST_FORMAT:
            raise ObjectStoreError(f"{store.url}/{MANIFEST} has format {manifest.get('format')!r}, this smsetl "
                                   f"reads {MANIFEST_FORMAT}: upgrade smsetl, or publish again with this one")
        self.manifest = manifest

    def files(self, table: str) -> list[str]:
        return [f"s3://{self.store.path(key)}" for key in self.manifest["tables"].get(table, [])]

    def identity(self, file: str) -> str:
        return file  # its key names its content's hash (`content_key`)

    def prepare(self, con) -> None:
        from fsspec.implementations.arrow import ArrowFSWrapper

        con.register_filesystem(ArrowFSWrapper(self.store.filesystem()))

    def merge_run(self, staging_dir: Path, run_id: str):
        raise TypeError("the published lake is read-only: merge into the local lake, then publish it")
