"""Recipients under a privacy mode: a keyed, stable hash of the digits; the number as sent; or nothing."""

import hashlib
import hmac
import json
import re

import pytest

import transforms
from transforms.pii import (
    HASH_HEX_CHARS,
    PiiPolicy,
    hash_recipient,
    normalize_number,
    protect_body,
    protect_messages,
    protect_recipient,
)

KEY = b"0123456789abcdef-test-key"


def test_a_hash_is_the_prefix_and_the_documented_number_of_hex_digits():
    hashed = hash_recipient("77011234567", KEY)
    assert re.fullmatch(rf"h:[0-9a-f]{{{HASH_HEX_CHARS}}}", hashed)
    assert HASH_HEX_CHARS >= 16


def test_a_hash_is_hmac_sha256_of_the_digits_truncated():
    expected = hmac.new(KEY, b"77011234567", hashlib.sha256).hexdigest()[:HASH_HEX_CHARS]
    assert hash_recipient("77011234567", KEY) == "h:" + expected


def test_the_same_number_and_key_give_the_same_hash_every_time():
    assert hash_recipient("77011234567", KEY) == hash_recipient("77011234567", bytes(KEY))


def test_another_key_gives_another_hash():
    assert hash_recipient("77011234567", KEY) != hash_recipient("77011234567", b"another-key-of-16-chars")


def test_different_numbers_give_different_hashes():
    assert hash_recipient("77011234567", KEY) != hash_recipient("77011234568", KEY)


def test_a_number_is_hashed_by_its_digits_whatever_its_punctuation():
    assert normalize_number("+7 (701) 123-45-67") == "77011234567"
    assert hash_recipient("+7 (701) 123-45-67", KEY) == hash_recipient("77011234567", KEY)
    assert hash_recipient(77011234567, KEY) == hash_recipient("77011234567", KEY)


def test_a_missing_or_blank_number_stays_null_in_every_mode():
    for mode in ("hash", "keep", "drop"):
        assert protect_recipient(None, mode, KEY) is None
    assert hash_recipient("  ", KEY) is None


def test_a_value_without_digits_is_hashed_by_its_text_not_stored_in_clear():
    hashed = hash_recipient(" someone ", KEY)
    assert hashed.startswith("h:") and hashed == hash_recipient("someone", KEY)


def test_hashing_a_hash_changes_nothing():
    hashed = hash_recipient("77011234567", KEY)
    assert hash_recipient(hashed, KEY) == hashed


def test_keep_returns_the_number_as_sent_and_drop_returns_null():
    assert protect_recipient("+77011234567", "keep") == "+77011234567"
    assert protect_recipient("+77011234567", "drop") is None


def test_hash_mode_without_a_key_and_an_unknown_mode_are_refused():
    with pytest.raises(ValueError, match="needs a key"):
        PiiPolicy("hash")
    with pytest.raises(ValueError, match="hash, keep, drop"):
        PiiPolicy("mask", KEY)
    with pytest.raises(ValueError, match="needs a key"):
        protect_messages([{"to": "7701"}], "hash", None)


def test_the_key_is_not_in_a_policys_repr():
    assert KEY.decode() not in repr(PiiPolicy("hash", KEY))


def test_message_items_get_only_their_to_changed_and_the_input_is_left_alone():
    items = [{"id": "1", "to": "77011234567", "from": "Shop", "text": "Sale 77011234567"}, "not an object",
             {"id": "2"}]
    hashed = protect_messages(items, "hash", KEY)
    assert items[0]["to"] == "77011234567"  # not modified
    assert hashed[0] == {**items[0], "to": hash_recipient("77011234567", KEY)}
    assert hashed[1:] == items[1:]
    assert protect_messages(items, "drop")[0] == {**items[0], "to": None}
    assert protect_messages(items, "keep") is items


@pytest.mark.parametrize("mode", ["hash", "drop"])
def test_in_place_the_same_items_change_as_a_copy_would(mode):
    items = [{"id": "1", "to": "+7 701 123-45-67"}, "not an object", {"id": "2"}]
    copied = protect_messages(items, mode, KEY)
    assert protect_messages(items, mode, KEY, in_place=True) is items
    assert items == copied


@pytest.mark.parametrize("key", [KEY, b"", b"x" * 64, b"y" * 65, bytes(range(200))])
def test_the_hand_written_hmac_is_the_standard_one(key):
    """`_hmac_sha256_pads` does RFC 2104 by hand (for speed): the same digest as `hmac`, keys of any length."""
    expected = hmac.new(key, b"77011234567", "sha256").hexdigest()[:HASH_HEX_CHARS]
    assert hash_recipient("77011234567", key) == "h:" + expected


def test_the_messages_transform_stores_whatever_to_the_policy_left():
    item = {"id": "1", "campaignId": "2", "to": "77011234567", "status": "DELIVRD"}
    policy = transforms.PiiPolicy("hash", KEY)
    frame = transforms.messages(policy.protect_messages([item]), "Asia/Almaty", "2026-11-01 00:00:00").frame
    assert frame["recipient"].tolist() == [hash_recipient("77011234567", KEY)]


# -- a response body changed in place (the sync's Message/List pages read by column) ------------------------------

def _body(items) -> bytes:
    return json.dumps({"code": 0, "data": {"items": items, "totalItemCount": str(len(items))}}).encode()


BODY_ITEMS = [
    {"id": "1", "to": "77011234567", "text": 'a text that says "to":"77000000000"', "campaign": {"from": "X"}},
    {"id": "2", "to": None},
    {"id": "3"},
    {"id": "4", "to": "+7 (701) 765-43-21"},
    {"id": "5", "to": ""},
]


@pytest.mark.parametrize("mode", ["hash", "drop", "keep"])
def test_a_body_gets_the_same_recipients_as_its_decoded_items_would(mode):
    body = _body(BODY_ITEMS)
    changed, recipients = protect_body(body, [item.get("to") for item in BODY_ITEMS], mode, KEY)
    expected = protect_messages(json.loads(body)["data"]["items"], mode, KEY)
    assert json.loads(changed)["data"]["items"] == expected  # the text that only looks like a key is untouched
    assert recipients == [item.get("to") for item in expected]
    if mode != "keep":
        assert b"77011234567" not in changed and b"765-43-21" not in changed


def test_a_body_with_spaces_around_its_colons_is_changed_too():
    body = json.dumps({"data": {"items": [{"id": "1", "to": "77011234567"}]}}, indent=1).encode()
    changed, _ = protect_body(body, ["77011234567"], "hash", KEY)
    assert json.loads(changed)["data"]["items"][0]["to"] == hash_recipient("77011234567", KEY)


@pytest.mark.parametrize("body, recipients", [
    (b'{"items":[{"to":"7701\\u0032"}]}', ["77012"]),  # written with an escape: not found as sent
    (b'{"items":[{"to":"77012","card":{"to":"77013"}}]}', ["77012"]),  # another object's `to`
    (b'{"items":[{"card":{"to":"77013"}},{"to":"7701\\u0032"}]}', [None, "77012"]),  # as many, not the same
], ids=["escaped", "nested", "nested instead"])
def test_a_body_whose_to_keys_are_not_exactly_the_items_is_not_changed(body, recipients):
    """The caller then protects the decoded items instead: a substitution could leave a number in clear."""
    assert protect_body(body, recipients, "hash", KEY) is None
