"""Rendering of the warehouse for people: the metrics table (`reports.metrics`) and the HTML page
(`reports.html`). Below the flows and the CLI, which both use it; it reads only the warehouse (DuckDB)."""
