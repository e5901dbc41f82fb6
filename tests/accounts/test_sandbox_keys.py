"""`smsetl sandbox --api-key`: one sandbox per account, each answering only its own key (code 8 for any other)."""

import json
import urllib.request
from datetime import datetime

from sandbox import SANDBOX_API_KEY
from sandbox.process import SandboxProcess

KEY = "agency" + "7" * 34


def _code(url: str, key: str) -> int:
    with urllib.request.urlopen(f"{url}/service/User/GetOwnBalance?output=json&api=v1&apiKey={key}",
                                timeout=10) as response:
        return json.load(response)["code"]


def test_a_sandbox_started_with_an_api_key_answers_that_key_and_refuses_the_default():
    with SandboxProcess(seed=3, campaigns=2, messages=40, now=datetime(2026, 11, 1, 12), timezone="Asia/Almaty",
                        extra_args=("--api-key", KEY)) as sandbox:
        assert _code(sandbox.url, KEY) == 0
        assert _code(sandbox.url, SANDBOX_API_KEY) == 8
