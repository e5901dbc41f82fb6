"""The README's two commands stay the ones a newcomer and CI run."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_the_readme_opens_with_exactly_the_demo_and_the_test_command():
    demo, tests = readme_commands()
    assert demo.endswith("smsetl demo")
    assert tests.endswith("pytest")
    assert (ROOT / "README.md").read_text().index("smsetl demo") < 400


def test_ci_runs_the_readme_test_command_verbatim():
    _, tests = readme_commands()
    assert tests in (ROOT / ".ci" / "run").read_text().splitlines()


def test_every_cli_command_is_in_the_readme():
    from smsetl.cli import main  # noqa: F401  (the parser is built in main; its commands are listed here)

    text = (ROOT / "README.md").read_text()
    for command in ("demo", "sync", "metrics", "rebuild", "build", "sandbox"):
        assert f"`smsetl {command}" in text
