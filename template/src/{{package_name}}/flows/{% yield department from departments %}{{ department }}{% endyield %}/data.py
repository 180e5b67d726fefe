"""What this department reads: its default sources and the shape of their records.

The one module to edit to bring your own data (README: "Replace the demo data").
"""

from pathlib import Path

from ...core.records import Schema

# Read when a run names no `sources`: local paths or http(s) URLs. The demo files ship
# with the package, so the pipeline runs offline.
SOURCES = tuple(str(path) for path in sorted((Path(__file__).parent / "demo_data").glob("*.csv")))

# How the sources hold the records: the parser kind ("csv", "json", or one you register in
# core/parsers.py) and, for a record field the sources name otherwise, their name for it,
# e.g. Schema(kind="json", fields={"record_id": "id", "occurred_on": "date"}).
SCHEMA = Schema(kind="csv")
