"""The CLI's live progress (smsetl/progress.py): a rich table on a terminal, plain log lines otherwise."""

import io
import logging

from rich.console import Console

from flows.progress import Progress
from smsetl.progress import LiveDisplay, progress_display, render, wants_live_display


class FakeClock:
    now = 100.0

    def __call__(self):
        return self.now


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=100), out


def plain_text(console: Console, renderable) -> str:
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def busy_progress() -> Progress:
    clock = FakeClock()
    p = Progress(calls=lambda: {"Message/List": 12, "Link/GetLinks": 4}, clock=clock, observers=[])
    p.begin("extract")
    p.track("messages", "Message/List")
    p.track("campaign_links", "Link/GetLinks")
    clock.now += 4
    p.read("messages", 1200, total=2000)
    p.read("campaign_links", 30)
    return p


def test_the_table_has_a_row_per_entity_with_items_calls_rate_total_and_eta():
    console, _ = terminal()
    text = plain_text(console, render(busy_progress().snapshot()))
    assert "phase: extract" in text
    lines = {line.split()[0]: line.split() for line in text.splitlines() if line.strip()}
    assert lines["messages"] == ["messages", "1,200", "12", "300", "2,000", "2.7", "s"]  # 800 left at 300/s
    assert lines["campaign_links"] == ["campaign_links", "30", "4", "8"]  # no total, no ETA


def test_the_live_display_draws_the_run_begun_inside_it_with_escape_codes(monkeypatch):
    console, out = terminal()
    with LiveDisplay(console, refresh_per_second=20):
        p = Progress(calls=lambda: {"Message/List": 3})  # the flow makes it; the display was registered
        p.track("messages", "Message/List")
        p.read("messages", 250, total=500)
        p.finish()
    drawn = out.getvalue()
    assert "\x1b[" in drawn and "messages" in drawn and "250" in drawn and "500" in drawn
    assert "finished" in drawn  # the final frame stays


def test_log_lines_during_the_display_print_through_it_and_their_handler_is_restored_after(monkeypatch):
    import sys

    handler = logging.StreamHandler(sys.__stderr__)
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    console, _ = terminal()
    with LiveDisplay(console):
        during = handler.stream
    assert during is not sys.__stderr__ and handler.stream is sys.__stderr__


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_the_live_display_and_a_pipe_or_a_prefect_worker_gets_plain_lines():
    assert wants_live_display(Tty(), {"TERM": "xterm"})
    assert not wants_live_display(io.StringIO(), {"TERM": "xterm"})  # a pipe, a file
    assert not wants_live_display(Tty(), {"TERM": "xterm", "PREFECT__FLOW_RUN_ID": "0b5e3a7c"})
    assert not wants_live_display(Tty(), {"TERM": "dumb"})
    assert isinstance(progress_display(Tty(), {}), LiveDisplay)
    assert not isinstance(progress_display(io.StringIO(), {}), LiveDisplay)
