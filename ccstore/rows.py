"""Storage rows: ClusterCockpit message kinds, the row shape, and decode results.

Every ClusterCockpit message is one line-protocol point whose *field key* says
what it is: ``event``, ``log``, ``value`` (a metric) or ``control``.  The store
keeps events and logs as *rows*, plain tuples in the column order of
:data:`ROW_COLUMNS`; metrics and controls are counted and dropped.
:func:`point_to_row` is the reference every fast path must agree with.
:class:`LineError` and :class:`RowBatch` are what the decoders return.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

__all__ = [
    "LineError",
    "RowBatch",
    "KIND_FIELDS",
    "STORED_KINDS",
    "DROPPED_KINDS",
    "IDENTITY_TAGS",
    "LEVEL_TAG",
    "ROW_COLUMNS",
    "Row",
    "MessageError",
    "classify",
    "othertags_json",
    "point_to_row",
    "NS_PER_S",
]

NS_PER_S = 1_000_000_000

#: field key -> message kind
KIND_FIELDS = {"event": "event", "log": "log", "value": "metric", "control": "control"}
STORED_KINDS = ("event", "log")
DROPPED_KINDS = ("metric", "control")

#: tags that have a column of their own, in column order (tag key -> column)
IDENTITY_TAGS = (
    ("hostname", "hostname"),
    ("type", "type"),
    ("type-id", "typeid"),
    ("stype", "stype"),
    ("stype-id", "stypeid"),
)
#: the tag naming the cluster; implied by the table, never stored in othertags
CLUSTER_TAG = "cluster"
#: per kind, the tag that is the message's main attribute (kept in othertags
#: as the Go program does, and also in a column of its own for fast counts)
LEVEL_TAG = {"log": "loglevel", "event": "function"}

#: columns of a row tuple, in order
ROW_COLUMNS = (
    "time",  # int, nanoseconds since the epoch
    "timestamp",  # int, Unix seconds (floor of time), as the Go program stores it
    "name",  # measurement: event class or log source
    "hostname",
    "type",
    "typeid",
    "stype",
    "stypeid",
    "othertags",  # JSON object of every other tag, keys sorted, compact
    "field",  # the payload: event or log text
    "level",  # value of LEVEL_TAG[kind], or None
)

Row = Tuple[int, int, str, Optional[str], Optional[str], Optional[str], Optional[str],
            Optional[str], str, str, Optional[str]]

#: the errors of points that are no storable message (the decoders report them too)
NOT_A_MESSAGE = ("not a ClusterCockpit message: expected a field named event, log, value or "
                 "control")
NOT_A_STRING = 'field "{key}" must be a string'
NO_CLUSTER = "no cluster: the line has no cluster tag and none was given"

_NON_OTHER = {CLUSTER_TAG}.union(t for t, _ in IDENTITY_TAGS)


class MessageError(ValueError):
    """A well-formed point that is not a storable ClusterCockpit message."""


def classify(fields: Mapping[str, Any]) -> Tuple[str, Optional[str]]:
    """Return ``(kind, field_key)`` for a point's fields.

    The first field (in input order) whose key names a kind decides.  Raises
    :class:`MessageError` when no field does, or when an event/log payload is
    not a string.
    """
    for key, value in fields.items():
        kind = KIND_FIELDS.get(key)
        if kind is None:
            continue
        if kind in STORED_KINDS and not isinstance(value, str):
            raise MessageError(NOT_A_STRING.format(key=key))
        return kind, key
    raise MessageError(NOT_A_MESSAGE)


def othertags_json(tags: Mapping[str, str]) -> str:
    """JSON object of the tags without a column of their own (sorted, compact)."""
    other = {k: v for k, v in tags.items() if k not in _NON_OTHER}
    return json.dumps(other, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def point_to_row(
    name: str, tags: Mapping[str, str], fields: Mapping[str, Any], time: int,
    cluster: Optional[str] = None,
) -> Tuple[str, str, Optional[Row]]:
    """Turn one decoded point into ``(cluster, kind, row)``.

    ``row`` is None for kinds that are dropped (metric, control).  The line's
    ``cluster`` tag wins over the ``cluster`` argument; with neither, a
    :class:`MessageError` is raised.
    """
    kind, key = classify(fields)
    if kind not in STORED_KINDS:
        return (tags.get(CLUSTER_TAG) or cluster or ""), kind, None
    cl = tags.get(CLUSTER_TAG) or cluster
    if not cl:
        raise MessageError(NO_CLUSTER)
    row = (
        time,
        time // NS_PER_S,
        name,
        tags.get("hostname"),
        tags.get("type"),
        tags.get("type-id"),
        tags.get("stype"),
        tags.get("stype-id"),
        othertags_json(tags),
        fields[key],
        tags.get(LEVEL_TAG[kind]),
    )
    return cl, kind, row


class LineError:
    """One rejected line: where (1-based physical line and byte column) and why."""

    __slots__ = ("lineno", "column", "message", "text")

    def __init__(self, lineno: int, column: int, message: str, text: str = "") -> None:
        self.lineno = lineno
        self.column = column
        self.message = message
        #: the offending line (at most 200 bytes of it), decoded with replacement
        self.text = text

    def as_dict(self) -> dict:
        return {"line": self.lineno, "column": self.column, "message": self.message,
                "text": self.text}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LineError):
            return NotImplemented
        return (self.lineno, self.column, self.message, self.text) == (
            other.lineno, other.column, other.message, other.text)

    def __hash__(self) -> int:
        return hash((self.lineno, self.column, self.message, self.text))

    def __str__(self) -> str:
        return f"line {self.lineno}, column {self.column}: {self.message}"

    def __repr__(self) -> str:
        return (f"LineError(lineno={self.lineno!r}, column={self.column!r}, "
                f"message={self.message!r}, text={self.text!r})")


class RowBatch:
    """What :func:`ccstore.lineproto.decode_rows` returns.

    - ``groups``: ``{(cluster, kind): [row, ...]}`` with rows shaped as
      :data:`ROW_COLUMNS`, kind ``"event"`` or ``"log"``,
      keys in order of first appearance, rows in input order;
    - ``errors``: :class:`LineError` list in input order (syntax errors and
      lines that are not storable messages, e.g. without a cluster);
    - ``dropped``: ``{"metric": n, "control": n}`` for kinds that are not kept
      (only kinds that occurred);
    - ``consumed``: bytes of the input that were decoded.  Equal to
      ``len(data)`` unless ``final=False`` left an unterminated last line;
    - ``lines``: physical lines consumed (so the next chunk's ``lineno`` is
      ``lineno + lines``);
    - ``copy``, ``copied``, ``copy_min``, ``copy_max``: rows that a backend's own
      decoder encoded while decoding (:mod:`ccstore.backends.pgcopy`): their
      bytes, how many, and their least and greatest time (None when there are
      none).  Those rows are not in ``groups``.
    """

    __slots__ = ("groups", "errors", "dropped", "consumed", "lines", "copy", "copied",
                 "copy_min", "copy_max")

    def __init__(self, groups: Dict[Tuple[str, str], List[tuple]], errors: List[LineError],
                 dropped: Dict[str, int], consumed: int, lines: int, copy: bytes = b"",
                 copied: int = 0, copy_min: Optional[int] = None,
                 copy_max: Optional[int] = None) -> None:
        self.groups = groups
        self.errors = errors
        self.dropped = dropped
        self.consumed = consumed
        self.lines = lines
        self.copy = copy
        self.copied = copied
        self.copy_min = copy_min
        self.copy_max = copy_max

    @property
    def rows(self) -> int:
        """Rows decoded: those in ``groups`` and those in ``copy``."""
        return sum(len(v) for v in self.groups.values()) + self.copied

    def __repr__(self) -> str:
        return (f"RowBatch(rows={self.rows}, errors={len(self.errors)}, "
                f"dropped={self.dropped!r}, consumed={self.consumed}, lines={self.lines})")
