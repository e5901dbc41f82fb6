"""The reference's captured responses (API.md section 10) come through the client as specified."""
import json

import pytest

from smsapi import AuthError, BadRequestError, ValidationError

F2 = ('{"code":0,"data":[{"id":"123","status":"DELIVRD","segNum":"1","startSendTs":"2021-09-04 13:28:29",'
      '"statusUpdateTs":"2021-09-04 13:28:35"}],"message":""}')
F3 = '{"code":0,"data":{"campaignId":"1111111","messageId":"11111111","status":2},"message":""}'
F4 = '{"code":0,"data":{"balance":"6.0000","currency":"KZT"},"message":""}'
F5 = '{"code":8,"data":[],"message":"failed.api.auth"}'
F6 = ('{"code":4,"data":null,"message":"Модуль mess не найден. Проверьте правильность написания и сведения в '
      'документации."}')
F7 = ('{"code":11,"data":null,"message":"Параметр(ы) data не верны для данного модуля и метода. Проверьте '
      'правильность указанных параметров и сведения в документации."}')
F9 = ('{"code":1,"data":{"name":["Grupo com nome idêntico já existe. Por favor, escolha um nome único."]},'
      '"message":"Um ou mais campos contêm dados incorretos. Verifique os erros e tente novamente."}')


def test_f2_sms_status_list_comes_back_unchanged(server, api):
    server.add(json.loads(F2))
    assert list(api.get_sms_status([123])) == [json.loads(F2)["data"]]


def test_f3_send_result_keeps_string_ids_and_the_integer_status(server, api):
    server.add(json.loads(F3))
    assert api.send_sms("5511941439844", "Mobizon SMS API") == {
        "campaignId": "1111111", "messageId": "11111111", "status": 2}


def test_f4_balance_is_returned_as_strings(server, api):
    server.add(json.loads(F4))
    assert api.get_balance() == {"balance": "6.0000", "currency": "KZT"}


def test_f5_auth_failure_is_code_8(server, api):
    server.add(json.loads(F5))
    with pytest.raises(AuthError, match="failed.api.auth; check SMS_API_KEY"):
        api.get_balance()


@pytest.mark.parametrize("payload,code", [(F6, 4), (F7, 11)])
def test_f6_f7_russian_messages_are_kept_in_the_error(server, api, payload, code):
    server.add(json.loads(payload))
    with pytest.raises(BadRequestError) as info:
        api.call("mess", "x")
    assert info.value.code == code and json.loads(payload)["message"] in str(info.value)


def test_f9_validation_error_names_the_field_in_portuguese(server, api):
    server.add(json.loads(F9))
    with pytest.raises(ValidationError, match="bad fields: name: Grupo com nome idêntico"):
        api.call("ContactGroup", "Create", {"data": {"name": "x"}})
