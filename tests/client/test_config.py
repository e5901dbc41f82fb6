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


def test_the_rate_limit_comes_from_sms_rate_limit_and_none_switches_it_off():
    assert SmsApi.from_env(env(SMS_RATE_LIMIT="2.5")).limiter.rate == 2.5
    assert SmsApi.from_env(env(SMS_RATE_LIMIT="none")).limiter.rate is None


def test_a_bad_rate_limit_is_a_config_error():
    with pytest.raises(ConfigError, match="SMS_RATE_LIMIT"):
        SmsApi.from_env(env(SMS_RATE_LIMIT="fast"))


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
