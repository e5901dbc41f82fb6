"""SmsApi.from_env: clear errors that name the variable and the fix."""
import pytest

from smsapi import ConfigError, SmsApi

from .conftest import API_KEY


def env(**kw):
    base = {"SMS_API_KEY": API_KEY, "SMS_API_URL": "http://127.0.0.1:9", "SMS_TIMEZONE": "Asia/Almaty"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def test_a_missing_key_names_sms_api_key():
    with pytest.raises(ConfigError, match="SMS_API_KEY is not set"):
        SmsApi.from_env(env(SMS_API_KEY=None))


def test_a_missing_url_names_sms_api_url():
    with pytest.raises(ConfigError, match="SMS_API_URL is not set"):
        SmsApi.from_env(env(SMS_API_URL=None))


def test_an_unknown_zone_names_sms_timezone():
    with pytest.raises(ConfigError, match="'Nowhere/Land' in SMS_TIMEZONE"):
        SmsApi.from_env(env(SMS_TIMEZONE="Nowhere/Land"))


def test_the_rate_limit_is_learned_by_default_capped_by_a_number_and_off_with_none():
    for unset in (None, "", "auto", "AUTO"):
        limiter = SmsApi.from_env(env(SMS_RATE_LIMIT=unset)).limiter
        assert limiter.adaptive and limiter.rate is None, unset
    capped = SmsApi.from_env(env(SMS_RATE_LIMIT="2.5")).limiter
    assert capped.adaptive and capped.rate == 2.5
    off = SmsApi.from_env(env(SMS_RATE_LIMIT="none")).limiter
    assert not off.adaptive and off.rate is None and not off.limited


def test_a_bad_rate_limit_is_a_config_error():
    for bad in ("fast", "-1", "nan"):
        with pytest.raises(ConfigError, match="SMS_RATE_LIMIT.*'auto'.*'none'"):
            SmsApi.from_env(env(SMS_RATE_LIMIT=bad))


def test_overrides_win_over_the_environment():
    api = SmsApi.from_env(env(), base_url="http://other:1", timezone="Europe/Kyiv", rate_limit_per_method=1.0)
    assert api.base_url == "http://other:1" and api.timezone == "Europe/Kyiv" and api.limiter.rate == 1.0


def test_the_process_environment_is_read_by_default(monkeypatch):
    for k, v in env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("SMS_RATE_LIMIT", raising=False)
    assert SmsApi.from_env().timezone == "Asia/Almaty"


def test_a_bare_host_gets_https():
    assert SmsApi("api.mobizon.kz", API_KEY).base_url == "https://api.mobizon.kz"
