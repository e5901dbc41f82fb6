"""Error text names the code, its glossary meaning, the endpoint and the server's message."""
import pickle

import pytest

from smsapi.errors import (
    FATAL_CODES,
    RETRIABLE_CODES,
    AuthError,
    NothingDoneError,
    ValidationError,
    error_for,
)


def test_code_8_reads_as_login_failed_with_the_endpoint_message_and_the_fix():
    e = error_for(8, "failed.api.auth", [], "User", "GetOwnBalance")
    assert isinstance(e, AuthError)
    assert str(e) == "API code 8: login failed (User/GetOwnBalance): failed.api.auth; check SMS_API_KEY"


def test_code_1_lists_each_bad_field_and_its_messages():
    e = error_for(1, "Um ou mais campos contêm dados incorretos.",
                  {"name": ["Grupo com nome idêntico já existe."]}, "ContactGroup", "Create")
    assert isinstance(e, ValidationError)
    assert e.fields == {"name": ["Grupo com nome idêntico já existe."]}
    assert "bad fields: name: Grupo com nome idêntico já existe." in str(e)
    assert str(e).startswith("API code 1: validation error")


def test_code_99_carries_the_failed_items():
    items = [{"recipient": "1", "code": 3}]
    e = error_for(99, "nothing done", items, "Campaign", "AddRecipients")
    assert isinstance(e, NothingDoneError) and e.items == items


@pytest.mark.parametrize("code", sorted(FATAL_CODES))
def test_every_fail_fast_code_has_a_glossary_meaning_and_is_not_retriable(code):
    e = error_for(code, "msg", None, "Campaign", "List")
    assert e.fatal and not e.retriable
    assert "not in the gateway's glossary" not in e.meaning
    assert str(e).startswith(f"API code {code}: ")


@pytest.mark.parametrize("code", sorted(RETRIABLE_CODES))
def test_codes_3_10_30_999_are_retriable(code):
    assert error_for(code).retriable


def test_an_unknown_code_says_it_is_not_in_the_glossary():
    assert "not in the gateway's glossary" in str(error_for(42, "x"))


def test_api_errors_survive_pickling_for_thread_and_process_pools():
    e = pickle.loads(pickle.dumps(error_for(1, "bad", {"name": ["x"]}, "A", "B")))
    assert isinstance(e, ValidationError) and e.fields == {"name": ["x"]} and e.endpoint == "A/B"
