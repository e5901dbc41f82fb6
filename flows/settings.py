"""The pipeline's settings: one typed object, read from the environment, with the CLI's flags over it.

Flows and their helpers read `current()`: the settings the CLI activated for this process (its flags over the
environment), else the environment as it is now, so nothing is read at import time and a flag never has to be
written into `os.environ`. A Prefect worker running a deployment has no CLI: it gets the environment's.
Secrets are `SecretStr`: their repr, and anything that logs a `Settings`, shows `**********`.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.lake import DEFAULT_DUCKDB_MEMORY
from storage.objectstore import ObjectStore, parse_lake_url


class SettingsError(ValueError):
    """A setting has a value it cannot have; the message names the variable and what to use."""


class Settings(BaseSettings):
    """Every variable the pipeline reads, by its environment name (see the README's configuration table)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    api_url: str = Field("", alias="SMS_API_URL")
    api_key: SecretStr = Field(SecretStr(""), alias="SMS_API_KEY")
    timezone: str = Field("", alias="SMS_TIMEZONE")  # blank: the client's default zone
    rate_limit: str = Field("", alias="SMS_RATE_LIMIT")  # blank: auto
    data_dir: Path = Field(Path("data"), alias="SMS_DATA_DIR")
    pii: str = Field("", alias="SMS_PII")  # blank: not chosen, the default mode (flows.privacy)
    pii_key: SecretStr = Field(SecretStr(""), alias="SMS_PII_KEY")
    pii_key_file: str = Field("", alias="SMS_PII_KEY_FILE")
    xdg_config_home: str = Field("", alias="XDG_CONFIG_HOME")  # where the PII key file goes by default
    workers: int = Field(4, alias="SMSETL_WORKERS", ge=1, le=64)
    account_workers: int = Field(2, alias="SMSETL_ACCOUNT_WORKERS", ge=1, le=64)  # accounts synced at once
    duckdb_memory: str = Field(DEFAULT_DUCKDB_MEMORY, alias="SMSETL_DUCKDB_MEMORY")
    # On Dask: a sync's message batches, or with --accounts the accounts; blank (threads), local or tcp://host:port
    dask: str = Field("", alias="SMSETL_DASK")

    @field_validator("dask")
    @classmethod
    def _dask_cluster(cls, value: str) -> str:
        value = value.strip()
        if value in ("", "local") or (value.startswith(("tcp://", "tls://")) and len(value) > 6):
            return value
        raise ValueError("must be 'local' (a Dask LocalCluster on this machine) or a scheduler's address such as "
                         "tcp://scheduler:8786 (or blank: threads of this process)")

    # A large backfill's message batches in local worker processes (flows.processes): auto, or 0 (threads) to 64
    processes: str = Field("auto", alias="SMSETL_PROCESSES")

    @field_validator("processes")
    @classmethod
    def _processes(cls, value: str) -> str:
        value = str(value).strip().lower() or "auto"
        if value == "auto" or (value.isdigit() and int(value) <= 64):
            return value if value == "auto" else str(int(value))
        raise ValueError("must be 'auto' (worker processes for a backfill of 100,000 messages or more, on a machine "
                         "of two cores or more) or a number of worker processes, 0 (the sync's threads) to 64")

    # The lake published to S3-compatible storage (storage/objectstore.py); blank: the local lake only.
    lake_url: str = Field("", alias="SMS_LAKE_URL")
    aws_access_key_id: str = Field("", alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: SecretStr = Field(SecretStr(""), alias="AWS_SECRET_ACCESS_KEY")
    aws_endpoint_url: str = Field("", alias="AWS_ENDPOINT_URL")  # blank: AWS itself
    aws_region: str = Field("", alias="AWS_REGION")

    @field_validator("lake_url")
    @classmethod
    def _lake_url(cls, value: str) -> str:
        if value:
            parse_lake_url(value)
        return value

    def object_store(self) -> ObjectStore | None:
        """Where the lake is published (`SMS_LAKE_URL` and the AWS_* variables), or None: the local lake only."""
        if not self.lake_url:
            return None
        try:
            return ObjectStore(self.lake_url, self.aws_access_key_id, self.aws_secret_access_key.get_secret_value(),
                               self.aws_endpoint_url, self.aws_region)
        except ValueError as exc:
            raise SettingsError(f"{exc} (see the README's configuration table)") from None

    def portable(self) -> dict:
        """These settings without the secrets, as plain values: what a task run elsewhere (a Dask worker, which
        has its own environment and none of this process's context) lays over its own environment with
        `load(**portable)`. The secrets stay where they are: each machine has its own (SMS_PII_KEY, the keys)."""
        return self.model_dump(mode="json", exclude={n for n, f in Settings.model_fields.items()
                                                     if f.annotation is SecretStr})

    def client_env(self) -> dict[str, str]:
        """The variables `SmsApi.from_env` reads (the client does not depend on this module), as strings."""
        return {"SMS_API_URL": self.api_url, "SMS_API_KEY": self.api_key.get_secret_value(),
                "SMS_TIMEZONE": self.timezone, "SMS_RATE_LIMIT": self.rate_limit}

    def with_flags(self, **flags) -> Settings:
        """These settings with the flags that were given (None: not given) over them, validated again."""
        given = {name: value for name, value in flags.items() if value not in (None, "")}
        return load(**{**self.model_dump(), **given}) if given else self


def load(**values) -> Settings:
    """Settings from the environment, `values` (by field name) over it; a bad value raises SettingsError."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0])  # the variable's name (the alias), or the field's when given by name
            field = Settings.model_fields.get(name) or next(
                (f for f in Settings.model_fields.values() if f.alias == name), None)
            variable = field.alias if field is not None and field.alias else name
            shown = "<hidden>" if field is not None and field.annotation is SecretStr else repr(error.get("input"))
            problems.append(f"{variable}={shown}: {error['msg']}")
        raise SettingsError("; ".join(problems) + " (see the README's configuration table)") from None


# A context variable, not a global: a multi-account sync (`flows.accounts`) runs each account's sync in a thread of
# its own with that account's settings, and Prefect's task threads inherit their submitter's context.
_active: ContextVar[Settings | None] = ContextVar("smsetl_settings", default=None)


def current() -> Settings:
    """The settings this process runs with: the activated ones, else the environment's, read now."""
    active = _active.get()
    return active if active is not None else load()


@contextmanager
def activated(settings: Settings):
    """Run with `settings` as `current()` (the CLI's flags over the environment), then restore the previous."""
    token = _active.set(settings)
    try:
        yield settings
    finally:
        _active.reset(token)
