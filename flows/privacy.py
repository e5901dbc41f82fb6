"""Recipients' phone numbers: the `SMS_PII` mode, the hashing key, and the mode a data directory holds.

The mode (`SMS_PII` or `--pii`: `hash`, the default, `keep` or `drop`, see `transforms.pii`) is applied to the
`to` of every Message/List item before the payload is written to raw, so raw, staging, lake and warehouse
all hold the same protected value, and `smsetl rebuild` replays it as it is.

The key (hash mode): `SMS_PII_KEY` when set, else the file `SMS_PII_KEY_FILE`, by default
`$XDG_CONFIG_HOME/smsetl/pii-key` (`~/.config/smsetl/pii-key`), made on first use from 32 random bytes, mode
0600. Not in the data directory: a keyed hash protects numbers only from whoever lacks the key, and a data
directory is what gets copied, backed up and handed to analysts; a key travelling with it would let anyone
holding a copy hash every possible number (about 10^10) and so reverse every recipient. The key is never
logged, never part of an error, a flow parameter, the lake, the warehouse or a run summary; the data
directory records only the mode and a key id (an HMAC of a constant: it identifies the key, reveals nothing).

`<data_dir>/pii.json` records the mode raw, lake and warehouse hold (and the key id). A sync whose mode or key
differs refuses before writing anything, naming the fix. `smsetl rebuild --pii X` converts a data directory to
a stronger mode (keep -> hash -> drop), raw included; there is no way back (the numbers are gone). A data
directory written before `SMS_PII` existed (raw without `pii.json`) holds numbers in clear: `keep`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from flows.settings import current
from storage import raw
from transforms.pii import PII_MODES, PII_STRENGTH, PiiPolicy

log = logging.getLogger("flows.privacy")

DEFAULT_MODE = "hash"
RECORD_FILE = "pii.json"
MIN_KEY_CHARS = 16
_KEY_ID_MESSAGE = b"smsetl pii key id"


class PiiError(ValueError):
    """A PII setting, or the mode a data directory holds, forbids the command; the message names the fix."""


def mode_from_env() -> tuple[str, bool]:
    """(`SMS_PII`'s mode, whether it was set); the CLI's `--pii` is over `SMS_PII` in the settings, so a flag
    counts as set."""
    value = current().pii.strip().lower()
    if not value:
        return DEFAULT_MODE, False
    if value not in PII_MODES:
        raise PiiError(f"SMS_PII={value!r} is not a PII mode: use one of {', '.join(PII_MODES)}")
    return value, True


def key_file() -> Path:
    """Where the hashing key lives when `SMS_PII_KEY` is not set."""
    settings = current()
    if explicit := settings.pii_key_file:
        return Path(explicit).expanduser()
    config = settings.xdg_config_home
    base = Path(config) if config and Path(config).is_absolute() else Path.home() / ".config"  # as XDG says
    return base / "smsetl" / "pii-key"


def load_key(create: bool) -> bytes | None:
    """The hashing key: `SMS_PII_KEY`, else the key file's text; with `create`, a missing file is made first
    (0600, in a 0700 folder). None when there is no key and `create` is false."""
    if text := current().pii_key.get_secret_value().strip():
        if len(text) < MIN_KEY_CHARS:
            raise PiiError(f"SMS_PII_KEY is shorter than {MIN_KEY_CHARS} characters: use a long random value "
                           f"(python -c 'import secrets; print(secrets.token_hex(32))')")
        return text.encode("utf-8")
    path = key_file()
    if not path.exists():
        if not create:
            return None
        _create_key_file(path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the PII key file %s is readable by other users: chmod 600 %s", path, path)
    text = path.read_text().strip()
    if len(text) < MIN_KEY_CHARS:
        raise PiiError(f"the PII key file {path} is empty or shorter than {MIN_KEY_CHARS} characters: restore it, "
                       f"or delete it to have a new key made (for a new data directory only: hashes change)")
    return text.encode("utf-8")


def _create_key_file(path: Path) -> None:
    """A new random key, published whole (written under another name, then linked): a concurrent first run
    either makes the file or reads the one the other made, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")  # threads of one process too
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
        log.info("made a new PII key in %s: keep it (hashes made with it are matched only with it)", path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        tmp.unlink(missing_ok=True)


def key_id(key: bytes) -> str:
    """Names a key without revealing it: HMAC-SHA256(key, a constant), 12 hex digits."""
    return hmac.digest(key, _KEY_ID_MESSAGE, hashlib.sha256).hex()[:12]


@dataclass(frozen=True)
class Held:
    """The mode a data directory's raw, lake and warehouse hold."""

    mode: str
    key_id: str | None = None
    converting_from: str | None = None  # a `rebuild --pii` conversion began and has not finished
    legacy: bool = False  # written before SMS_PII existed: no record, numbers in clear


def held(data_dir: Path) -> Held | None:
    """What `data_dir` holds; None for a directory with no data yet."""
    path = data_dir / RECORD_FILE
    if path.exists():
        record = json.loads(path.read_text())
        return Held(record["mode"], record.get("key_id"), record.get("converting_from"))
    if raw.runs(data_dir / "raw") or (data_dir / "lake").exists():
        return Held("keep", legacy=True)
    return None


def _record(data_dir: Path, mode: str, key: bytes | None, converting_from: str | None = None) -> None:
    record = {"mode": mode, "key_id": key_id(key) if mode == "hash" else None}
    if converting_from:
        record["converting_from"] = converting_from
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / (RECORD_FILE + ".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, data_dir / RECORD_FILE)


def check_sync(data_dir: Path) -> str:
    """The sync's mode, if `data_dir` can take it (raises `PiiError` otherwise); reads, writes nothing."""
    mode, _ = mode_from_env()
    _refuse_other_mode(data_dir, held(data_dir), mode)
    return mode


def for_sync(data_dir: Path) -> PiiPolicy:
    """The sync's policy (mode and key), after checking that `data_dir` holds that mode with that key; a new
    data directory records it (and a first hash-mode run makes the key file when there is none)."""
    mode, _ = mode_from_env()
    current = held(data_dir)
    _refuse_other_mode(data_dir, current, mode)
    key = None
    if mode == "hash":
        key = _key_for(data_dir, current)
    if current is None or current.legacy:
        _record(data_dir, mode, key)
    return PiiPolicy(mode, key)


def _refuse_other_mode(data_dir: Path, current: Held | None, mode: str) -> None:
    if current is None:
        return
    if current.converting_from:
        raise PiiError(f"an interrupted `smsetl rebuild --pii {current.mode}` left {data_dir} half converted "
                       f"from {current.converting_from}: run it again (with --data-dir {data_dir})")
    if current.mode == mode:
        return
    if current.legacy:
        raise PiiError(f"{data_dir} was written before SMS_PII existed and holds recipients' phone numbers in "
                       f"clear (mode keep), but this sync asks for {mode} (--pii, SMS_PII or the default): run "
                       f"`smsetl rebuild --pii {mode} --data-dir {data_dir}` to convert it (raw included), or "
                       f"sync with --pii keep to go on keeping them")
    fix = (f"or convert it first with `smsetl rebuild --pii {mode} --data-dir {data_dir}` (raw included)"
           if PII_STRENGTH[mode] > PII_STRENGTH[current.mode]
           else f"what mode {current.mode} removed cannot be restored, so for {mode} use a new --data-dir")
    raise PiiError(f"{data_dir} holds recipients' phone numbers in mode {current.mode}, but this sync asks for "
                   f"{mode} (--pii, SMS_PII or the default): sync with --pii {current.mode}; {fix}")


def _key_for(data_dir: Path, current: Held | None) -> bytes:
    """The key, checked against the one `data_dir`'s hashes were made with. A key is made only for a data
    directory that holds no hashes yet: a lost key must be restored, not silently replaced."""
    expected = current.key_id if current is not None and current.mode == "hash" else None
    key = load_key(create=expected is None)
    if key is None:
        raise PiiError(f"no PII key: {data_dir}'s recipients were hashed with key id {expected}; restore the key "
                       f"file {key_file()} or set SMS_PII_KEY to that key")
    if expected is not None and key_id(key) != expected:
        raise PiiError(f"the PII key (SMS_PII_KEY, else {key_file()}) has id {key_id(key)}, but {data_dir}'s "
                       f"recipients were hashed with key id {expected}: use that key, or a new --data-dir")
    return key


def for_rebuild(data_dir: Path) -> tuple[PiiPolicy, str | None]:
    """The rebuild's policy, and the mode it converts from (None when `data_dir` already holds it).

    A conversion happens only to a stronger mode and only when asked for by name (`--pii` or `SMS_PII`): it
    rewrites raw and cannot be undone. It is recorded as begun before raw is touched, so an interrupted one
    is finished by running the same rebuild again (and syncs refuse meanwhile)."""
    mode, explicit = mode_from_env()
    current = held(data_dir) or Held(mode)
    if current.converting_from:
        if mode != current.mode:
            raise PiiError(f"an interrupted `smsetl rebuild --pii {current.mode}` left {data_dir} half converted "
                           f"from {current.converting_from}: finish it with --pii {current.mode}")
        key = _key_for(data_dir, current) if mode == "hash" else None
        return PiiPolicy(mode, key), current.converting_from
    if mode == current.mode:
        key = _key_for(data_dir, current) if mode == "hash" else None
        if current.legacy:
            _record(data_dir, mode, key)
        return PiiPolicy(mode, key), None
    if PII_STRENGTH[mode] < PII_STRENGTH[current.mode]:
        raise PiiError(f"{data_dir} holds recipients' phone numbers in mode {current.mode}: they cannot be "
                       f"brought back to {mode}; rebuild with --pii {current.mode}, or sync into a new --data-dir")
    if not explicit:
        raise PiiError(f"{data_dir} holds recipients' phone numbers in mode {current.mode}, the default is "
                       f"{mode}: pass --pii {mode} to convert it (raw included; it cannot be undone), or "
                       f"--pii {current.mode} to rebuild it as it is")
    key = _key_for(data_dir, None) if mode == "hash" else None
    _record(data_dir, mode, key, converting_from=current.mode)
    return PiiPolicy(mode, key), current.mode


def finish_conversion(data_dir: Path, policy: PiiPolicy) -> None:
    """Record that raw, lake and warehouse now hold `policy`'s mode."""
    _record(data_dir, policy.mode, policy.key)
