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


def test_every_cli_command_and_option_is_in_the_readme():
    import argparse

    from smsetl.cli import build_parser

    text = (ROOT / "README.md").read_text()
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) == {"demo", "sync", "metrics", "report", "rebuild", "build", "housekeep", "sandbox", "serve",
                             "webhook"}
    for name, parser in commands.items():
        assert f"`smsetl {name}" in text, name
        if name == "sandbox":  # its many fault flags are documented by `smsetl sandbox --help` and the README
            continue
        for action in parser._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in text, f"smsetl {name} {flag} is not in the README"
