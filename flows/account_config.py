"""The accounts file of a multi-account sync (`smsetl sync --accounts FILE`): which gateway accounts to sync.

A TOML file (read with the standard library's `tomllib`) with one `[[account]]` table per account:

    [[account]]
    name = "acme"                        # [a-z0-9_-], unique: its data lives in <data dir>/accounts/acme/
    api_url = "https://api.mobizon.kz"   # or: domain = "api.mobizon.kz" (https is assumed)
    key_env = "ACME_SMS_API_KEY"         # the key from this environment variable ...
    # key_secret_block = "acme-sms-key"  # ... or from the Prefect Secret block of this name
    timezone = "Asia/Almaty"             # the account's IANA time zone (the gateway sends naive local times)
    # rate_limit = 5                     # optional: like SMS_RATE_LIMIT (a number, "auto" or "none")

The file never holds a key, only where to find it: it is the kind of file that is committed and shared. Every
problem is reported at once, each as `FILE:LINE: account "NAME": what is wrong and what to write instead`;
a value from the file is never echoed unless it is one of the fields above (a misplaced key stays unprinted).
The key itself is read only when the account's sync starts (`resolve_key`), so a missing one fails that
account alone.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storage.combined import RESERVED_NAMES

NAME = re.compile(r"[a-z0-9_-]{1,64}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BLOCK_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")  # what Prefect allows in a block document's name
HOST = re.compile(r"[A-Za-z0-9.-]+(:\d{1,5})?")
FIELDS = ("name", "api_url", "domain", "key_env", "key_secret_block", "timezone", "rate_limit")
RATE_WORDS = ("auto", "none")


class AccountConfigError(ValueError):
    """The accounts file cannot be used; the message lists every problem with its line and the fix."""


@dataclass(frozen=True)
class Account:
    """One account of the file. No key here: `key_env` or `key_secret_block` says where (see `resolve_key`)."""

    name: str
    api_url: str
    timezone: str
    key_env: str = ""
    key_secret_block: str = ""
    rate_limit: str = ""  # blank: the process's SMS_RATE_LIMIT (or --rate-limit)

    @property
    def key_source(self) -> str:
        """Where the key comes from, for messages: `$ACME_SMS_API_KEY` or `Prefect Secret block 'acme-key'`."""
        return f"${self.key_env}" if self.key_env else f"Prefect Secret block {self.key_secret_block!r}"


def load(path: Path) -> list[Account]:
    """The accounts of the file at `path`, in file order; AccountConfigError lists what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AccountConfigError(f"{path}: no such accounts file: write one (see the README's 'Many accounts')"
                                 ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AccountConfigError(f"{path}: cannot read the accounts file: {exc.__class__.__name__}") from None
    return parse(text, str(path))


def parse(text: str, source: str = "accounts.toml") -> list[Account]:
    """The accounts in TOML `text`; `source` names the file in messages."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise AccountConfigError(f"{source}:{line.group(1) if line else 1}: not valid TOML: {exc}") from None
    problems: list[str] = []
    for key in doc:
        if key != "account":
            problems.append(f"{source}:{_line(text, key=key)}: unknown top-level key {key!r}: the file holds only "
                            "[[account]] tables")
    tables = doc.get("account", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        problems.append(f"{source}:{_line(text, key='account')}: 'account' must be tables: write [[account]] "
                        "above each account's fields")
        tables = []
    if not tables and not problems:
        problems.append(f"{source}:1: no accounts: add an [[account]] table per account (name, api_url or domain, "
                        "key_env or key_secret_block, timezone)")
    accounts, seen = [], {}
    for index, table in enumerate(tables):
        account, errors = _account(table, index, text, source, seen)
        problems += errors
        if account:
            accounts.append(account)
    if problems:
        raise AccountConfigError("\n".join(problems))
    return accounts


def _account(table: dict, index: int, text: str, source: str, seen: dict[str, int]
             ) -> tuple[Account | None, list[str]]:
    name = table.get("name")
    label = f"account {name!r}" if isinstance(name, str) and name else f"account #{index + 1}"
    errors: list[str] = []

    def problem(key: str | None, message: str) -> None:
        errors.append(f"{source}:{_line(text, index, key)}: {label}: {message}")

    for key in table:
        if key not in FIELDS:
            hint = ("keys are never kept in the accounts file: put the key in an environment variable and name "
                    "it in key_env (or in a Prefect Secret block, key_secret_block)") if "key" in key.lower() else (
                    f"the fields are {', '.join(FIELDS)}")
            problem(key, f"unknown field {key!r}: {hint}")
    mistyped = [key for key in FIELDS if key in table and key != "rate_limit" and not isinstance(table[key], str)]
    for key in mistyped:
        problem(key, f"{key} must be a string in quotes")
    if mistyped:  # the checks below compare strings
        return None, errors

    if not name:
        problem(None, 'name is missing: add name = "..." (lower-case letters, digits, _ and -)')
    elif not NAME.fullmatch(name):
        problem("name", f"name {name!r} may hold only lower-case letters, digits, _ and - (64 at most): it names "
                        "the account's data directory and its rows")
    elif name in RESERVED_NAMES:
        problem("name", f"name {name!r} is reserved by the warehouse (a schema DuckDB keeps): choose another")
    elif name in seen:
        problem("name", f"name {name!r} is also account #{seen[name] + 1}'s: each account needs its own name")
    else:
        seen[name] = index

    api_url = _api_url(table, problem)
    key_env, key_secret_block = table.get("key_env", ""), table.get("key_secret_block", "")
    if bool(key_env) == bool(key_secret_block):
        problem("key_env" if key_env else None, "give exactly one of key_env (the environment variable holding the "
                "account's API key) or key_secret_block (a Prefect Secret block's name)")
    elif key_env and not ENV_NAME.fullmatch(key_env):
        problem("key_env", f"key_env {key_env!r} is not an environment variable's name: use letters, digits and _, "
                           "e.g. ACME_SMS_API_KEY (the name of the variable, not the key)")
    elif key_secret_block and not BLOCK_NAME.fullmatch(key_secret_block):
        problem("key_secret_block", f"key_secret_block {key_secret_block!r} is not a Prefect block name: use "
                                    "lower-case letters, digits and -")

    zone = table.get("timezone", "")
    if not zone:
        problem(None, 'timezone is missing: add the account\'s IANA time zone, e.g. timezone = "Asia/Almaty"')
    else:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problem("timezone", f"timezone {zone!r} is not an IANA time zone: use one like \"Asia/Almaty\" "
                                "(python -c 'import zoneinfo; print(zoneinfo.available_timezones())')")
    rate = _rate_limit(table.get("rate_limit"), problem)
    if errors:
        return None, errors
    return Account(name=name, api_url=api_url, timezone=zone, key_env=key_env, key_secret_block=key_secret_block,
                   rate_limit=rate), []


def _api_url(table: dict, problem) -> str:
    api_url, domain = table.get("api_url", ""), table.get("domain", "")
    if bool(api_url) == bool(domain):
        problem("domain" if domain else "api_url" if api_url else None,
                'give exactly one of api_url (e.g. "https://api.mobizon.kz") or domain (e.g. "api.mobizon.kz")')
        return ""
    if domain:
        if not HOST.fullmatch(domain):
            problem("domain", f"domain {domain!r} is not a host name: write it bare, like \"api.mobizon.kz\" (or "
                              "use api_url for a full URL)")
            return ""
        return f"https://{domain}"
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query:
        problem("api_url", f"api_url {api_url!r} is not an http(s) URL of the gateway: write it like "
                           "\"https://api.mobizon.kz\" (no key, no query)")
        return ""
    return api_url.rstrip("/")


def _rate_limit(value, problem) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        problem("rate_limit", 'rate_limit must be a number of calls per second per method, "auto" or "none"')
        return ""
    text = str(value).strip().lower()
    if text in RATE_WORDS:
        return text
    try:
        if float(text) > 0:
            return text
    except ValueError:
        pass
    problem("rate_limit", f"rate_limit {value!r} is not a positive number: use the most calls per second per method "
                          '(e.g. 5), "auto" (learn the gateway\'s limit) or "none"')
    return ""


def _line(text: str, index: int | None = None, key: str | None = None) -> int:
    """The line of `key` in the `index`-th [[account]] table (its header line if the key is absent), or of a
    top-level `key` when `index` is None: a best effort for messages, 1 when nothing matches."""
    lines = text.splitlines()
    headers = [n for n, line in enumerate(lines) if re.match(r"\s*\[\[\s*account\s*\]\]", line)]
    if index is None:
        start, end = 0, headers[0] if headers else len(lines)
    elif index < len(headers):
        start = headers[index]
        end = next((n for n in range(start + 1, len(lines)) if re.match(r"\s*\[", lines[n])), len(lines))
    else:
        return 1
    if key is not None:
        pattern = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for n in range(start, end):
            if pattern.match(lines[n]):
                return n + 1
    return start + 1


def resolve_key(account: Account) -> str:
    """The account's API key, from its environment variable or Prefect Secret block, read now. Raises
    AccountConfigError naming where it looked and how to set it; the key is in no message."""
    if account.key_env:
        key = os.environ.get(account.key_env, "").strip()
        if not key:
            raise AccountConfigError(f"account {account.name!r}: {account.key_env} is not set: export "
                                     f"{account.key_env}=<the API key of account {account.name} from the gateway's "
                                     "panel>")
        return key
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(account.key_secret_block).get()
    except ValueError as exc:  # Prefect raises ValueError for a block that does not exist
        raise AccountConfigError(
            f"account {account.name!r}: no Prefect Secret block {account.key_secret_block!r} on the Prefect server "
            f"({exc.__class__.__name__}): create it, e.g. python -c \"from prefect.blocks.system import Secret; "
            f"Secret(value='...').save('{account.key_secret_block}')\"") from None
    key = str(value).strip() if value is not None else ""
    if not key:
        raise AccountConfigError(f"account {account.name!r}: the Prefect Secret block {account.key_secret_block!r} "
                                 "is empty: save the account's API key in it")
    return key
