"""One set of output field names and one table of defaults for every interface.

REST JSON, the CLI's JSON lines and Python's ``as_dict()`` give a record as a dict
with these keys (and the query evaluator reads the same dict):

============  =======  ==========================================================
field         type     meaning
============  =======  ==========================================================
``time``      string   ISO 8601 in UTC with nine fractional digits and ``Z``
                       (``2026-12-01T10:00:00.123456789Z``): sorts as time does
``ts_ns``     integer  nanoseconds since the epoch
``cluster``   string   cluster name
``kind``      string   ``log`` or ``event``
``host``      string   the ``hostname`` tag, or null
``type``      string   the ``type`` tag (``node``, ``socket``...), or null
``type_id``   string   the ``type-id`` tag, or null
``stype``     string   the ``stype`` tag, or null
``stype_id``  string   the ``stype-id`` tag, or null
``name``      string   measurement: the event class or the log's source
``level``     string   the ``loglevel`` tag as stored (``warn``, ``ERROR``...), or null
``message``   string   the payload: the log line, or the event (often JSON)
``tags``      object   every other tag (``loglevel``, ``function``, ...), strings
``cursor``    string   position of the record, for ``after=`` (paging)
============  =======  ==========================================================

In a query the same names select (``host:``, ``type_id:``, ``level:``,
``_msg:``/``message:`` for the payload, ``_time:`` for the time), and any other
name is a tag.

Defaults, the same in the Python API, REST and the CLI (:data:`DEFAULTS`):

================  ========  =======================================================
setting           default   meaning
================  ========  =======================================================
``limit``         1000      records per answer (``after=`` pages on)
``max_limit``     100000    the largest ``limit`` an answer may ask for
``order``         ``desc``  newest first (``asc``: oldest first)
``kind``          both      logs and events, unless the query says ``kind:``
``facet_top``     10        values per field in facets
``group_limit``   100       message groups per answer
``hits_buckets``  60        time buckets of a histogram when no interval is given
================  ========  =======================================================
"""
from __future__ import annotations

import json
from typing import Any, Dict, Optional, Sequence

from ..rows import ROW_COLUMNS
from ..timesyntax import format_iso

__all__ = ["FIELDS", "DEFAULTS", "from_result", "from_row", "tags_of"]

#: output field names, in output order
FIELDS = ("time", "ts_ns", "cluster", "kind", "host", "type", "type_id", "stype", "stype_id",
          "name", "level", "message", "tags", "cursor")

#: defaults shared by every interface (see the module docstring)
DEFAULTS: Dict[str, Any] = {
    "limit": 1000,
    "max_limit": 100_000,
    "order": "desc",
    "kind": None,
    "facet_top": 10,
    "group_limit": 100,
    "hits_buckets": 60,
}

_ROW = {c: i for i, c in enumerate(ROW_COLUMNS)}


def tags_of(othertags: Optional[str]) -> Dict[str, str]:
    """The stored JSON object of other tags as a dict of strings ({} if unreadable)."""
    if not othertags:
        return {}
    try:
        tags = json.loads(othertags)
    except ValueError:
        return {}
    if not isinstance(tags, dict):
        return {}
    return {str(k): str(v) for k, v in tags.items()}


def _record(cluster: str, kind: str, row_id: Optional[int], t: int, name: str,
            identity: Sequence[Optional[str]], othertags: Optional[str],
            payload: str) -> Dict[str, Any]:
    tags = tags_of(othertags)
    return {
        "time": format_iso(t),
        "ts_ns": t,
        "cluster": cluster,
        "kind": kind,
        "host": identity[0],
        "type": identity[1],
        "type_id": identity[2],
        "stype": identity[3],
        "stype_id": identity[4],
        "name": name,
        "level": tags.get("loglevel"),
        "message": payload,
        "tags": tags,
        "cursor": None if row_id is None else f"{t}_{row_id}",
    }


def from_result(row: Sequence[Any]) -> Dict[str, Any]:
    """The output dict of a query result row (a backend's result tuple or a Record:
    cluster, kind, id, time, timestamp, name, hostname, type, typeid, stype, stypeid,
    othertags, field)."""
    return _record(row[0], row[1], row[2], row[3], row[5], row[6:11], row[11], row[12])


def from_row(cluster: str, kind: str, row: Sequence[Any],
             row_id: Optional[int] = None) -> Dict[str, Any]:
    """The output dict of a storage row (:data:`ccstore.rows.ROW_COLUMNS`)."""
    return _record(cluster, kind, row_id, row[_ROW["time"]], row[_ROW["name"]],
                   row[_ROW["hostname"]:_ROW["stypeid"] + 1], row[_ROW["othertags"]],
                   row[_ROW["field"]])
