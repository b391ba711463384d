"""HAProxy's ``show stat`` CSV read into counters per (route, server) and the weights it serves."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass

from syncd.nodes.proxy.model import BackendStats

_SERVER_TYPE = "2"  # the CSV's "type" column: 0 frontend, 1 backend, 2 server, 3 listener
_RESPONSE_COLUMNS = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")


@dataclass(frozen=True)
class StatsReading:
    """One ``show stat``: the counters and the live weight of every server."""

    stats: Mapping[tuple[str, str], BackendStats]
    weights: Mapping[tuple[str, str], int]


def parse_show_stat(text: str) -> StatsReading:
    """Parse the CSV (its first line is ``# pxname,svname,...``); frontends and backends are
    skipped, servers kept. Empty cells count as 0."""
    lines = text.strip().splitlines()
    if not lines:
        return StatsReading({}, {})
    lines[0] = lines[0].removeprefix("# ")
    stats: dict[tuple[str, str], BackendStats] = {}
    weights: dict[tuple[str, str], int] = {}
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        if row.get("type") != _SERVER_TYPE:
            continue
        key = (row["pxname"], row["svname"])
        answered = sum(_number(row.get(column)) for column in _RESPONSE_COLUMNS)
        stats[key] = BackendStats(
            sessions_current=_number(row.get("scur")),
            requests_total=answered,
            responses_5xx=_number(row.get("hrsp_5xx")),
        )
        weights[key] = _number(row.get("weight"))
    return StatsReading(stats, weights)


def _number(cell: str | None) -> int:
    return int(cell) if cell and cell.isdigit() else 0
