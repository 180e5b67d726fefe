"""Parsers: a source's bytes to rows of named values, one function per kind of file.

A department's Schema names its kind (flows/<department>/data.py). Another kind is
one function registered under a new name:

    @register("ndjson")
    def parse_ndjson(data: bytes) -> Table:
        lines = data.decode("utf-8").splitlines()
        return Table(rows=[(n, json.loads(line)) for n, line in enumerate(lines, 1) if line])

A parser raises SchemaError when the bytes are not records at all (the pipeline then
quarantines the file with that reason); checking each row is `records.validate`'s job.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

from .records import ParsedBatch, Schema, SchemaError, Table, validate

Parser = Callable[[bytes], Table]

PARSERS: dict[str, Parser] = {}


def register(kind: str) -> Callable[[Parser], Parser]:
    """Make `parse` use the decorated function for sources of this kind."""

    def add(parser: Parser) -> Parser:
        PARSERS[kind] = parser
        return parser

    return add


def parser_for(kind: str) -> Parser:
    """The parser registered for this kind."""
    try:
        return PARSERS[kind]
    except KeyError:
        # A setting to fix, not a bad file: the task fails at once, without quarantine.
        known = ", ".join(sorted(PARSERS))
        raise ValueError(f"no parser for kind {kind!r}; known: {known}") from None


def parse(kind: str, data: bytes) -> Table:
    """The rows of a source of the given kind."""
    return parser_for(kind)(data)


def read_records(data: bytes, schema: Schema) -> ParsedBatch:
    """Parse and validate one source's bytes as the schema says."""
    return validate(parse(schema.kind, data), schema)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SchemaError(f"not UTF-8 text: {exc}") from exc


@register("csv")
def parse_csv(data: bytes) -> Table:
    """CSV: UTF-8 (optional BOM), a header row first; header names are trimmed."""
    reader = csv.DictReader(io.StringIO(_decode(data)))
    header = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = header
    rows = [(reader.line_num, row) for row in reader]
    return Table(rows=rows, fields=header)


# The key of the list when a JSON source wraps its records in an object.
JSON_RECORDS_KEY = "records"


@register("json")
def parse_json(data: bytes) -> Table:
    """JSON: a list of objects, or an object whose "records" key holds that list (as
    many APIs answer). Each object is one row; a field is looked up by its key."""
    try:
        document = json.loads(_decode(data))
    except json.JSONDecodeError as exc:
        raise SchemaError(f"not JSON: {exc}") from None
    items = document.get(JSON_RECORDS_KEY) if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise SchemaError(
            "not a list of records: expected a JSON array, "
            f'or an object with a "{JSON_RECORDS_KEY}" array'
        )
    return Table(rows=list(enumerate(items, 1)))
