"""The sandbox gateway: the generated world (`data.World`) with a way to serve it over HTTP (`server`).

The world knows nothing of HTTP and the wire handlers (`api`) know nothing of servers; this is the one module
that joins them, so the imports run one way: gateway -> server -> api -> data.
"""

from __future__ import annotations

from .data import World
from .faults import Faults
from .server import SandboxServer


class Sandbox(World):
    """Generated gateway state plus a clock, servable. Build with :meth:`generate`."""

    def serve(self, port: int = 0, faults: Faults | None = None, host: str = "127.0.0.1",
              wrong_port: int = 0) -> SandboxServer:
        """Start the HTTP server in a background thread; returns a SandboxServer (a context manager)."""
        return SandboxServer(self, host=host, port=port, faults=faults, wrong_port=wrong_port)
