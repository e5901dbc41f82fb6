"""`smsetl demo`: the main job end to end on a local sandbox gateway, for a newcomer with no account.

Starts the sandbox in a subprocess, syncs into the data directory, advances the sandbox's clock two days
and syncs again (late delivery reports and new clicks arrive, and the second run reads only what changed),
then prints the per-campaign metrics and the path of the HTML report the syncs wrote.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sandbox.process import SandboxProcess

TIMEZONE = "Asia/Almaty"
ADVANCE = timedelta(days=2)


DEMO_MARKER = ".smsetl-demo"
# A terminal-wide selection of `campaign_metrics`; `smsetl metrics` prints every column.
DEMO_COLUMNS = ("campaign_id", "campaign_type", "sender", "messages_total", "pending", "delivered", "undelivered",
                "expired", "delivery_rate", "clicks", "click_through_rate", "delivery_seconds_p50", "cost_total",
                "is_settled")


def _fresh(data_dir: Path) -> None:
    """Start from an empty data directory: a new sandbox has a new clock, so an old demo's data would clash.

    Only a directory the demo made itself (it holds a marker file) is wiped; anything else is refused."""
    import shutil

    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / DEMO_MARKER).exists():
            raise FileExistsError(
                f"{data_dir} holds data that the demo did not make: pass --data-dir with another folder"
            )
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / DEMO_MARKER).write_text("made by smsetl demo; the next demo wipes this folder\n")


def demo(data_dir: Path, campaigns: int = 40, messages: int = 20_000, seed: int = 1) -> int:
    from flows.settings import activated, current
    from flows.sync import format_summary, sync
    from reports.html import REPORT_FILE
    from reports.metrics import render_rows
    from sandbox import SANDBOX_API_KEY
    from smsetl.progress import progress_display
    from storage import warehouse

    _fresh(data_dir)
    now = datetime.now(ZoneInfo(TIMEZONE)).replace(microsecond=0, tzinfo=None)
    print(f"starting the sandbox gateway: {campaigns} campaigns, {messages} messages, seed {seed}")
    with SandboxProcess(seed, campaigns, messages, now, TIMEZONE, startup_timeout=120) as sandbox:
        # The sandbox's address and key for these syncs only; a rate limit that was set still caps them.
        # On threads: a Dask worker would read the key from its environment, which has none (and needs a server).
        gateway = current().with_flags(api_url=sandbox.url, api_key=SANDBOX_API_KEY, timezone=TIMEZONE,
                                       rate_limit=current().rate_limit or "none").model_copy(update={"dask": ""})
        print(f"sandbox at {sandbox.url}, clock {sandbox.clock():%Y-%m-%d %H:%M} ({TIMEZONE}); data in {data_dir}")
        with activated(gateway):
            with progress_display():
                first = sync(str(data_dir))
            print(format_summary(first))
            later = sandbox.clock(advance=ADVANCE)
            print(f"\nadvanced the sandbox clock {ADVANCE.days} days to {later:%Y-%m-%d %H:%M}: late reports arrive")
            with progress_display():
                second = sync(str(data_dir))
            print(format_summary(second))
    con = warehouse.connect(data_dir)
    try:
        cursor = con.execute(f"select {', '.join(DEMO_COLUMNS)} from campaign_metrics order by campaign_id")
        print("\n" + render_rows(list(DEMO_COLUMNS), cursor.fetchall()))
    finally:
        con.close()
    print(f"\nwarehouse: {data_dir / warehouse.WAREHOUSE_FILE}  (every column: smsetl metrics; or open notebooks/)")
    report = data_dir / REPORT_FILE  # each sync writes it
    if report.exists():
        print(f"report: {report}  (open it in a browser; `smsetl report` writes it again)")
    else:
        print("report: not written (see the log above); `smsetl report` writes it")
    return 0
