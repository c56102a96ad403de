"""Result types shared by both decoder implementations (plain Python classes)."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

__all__ = ["LineError", "RowBatch"]


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
      :data:`ccstore.messages.ROW_COLUMNS`, kind ``"event"`` or ``"log"``,
      keys in order of first appearance, rows in input order;
    - ``errors``: :class:`LineError` list in input order (syntax errors and
      lines that are not storable messages, e.g. without a cluster);
    - ``dropped``: ``{"metric": n, "control": n}`` for kinds that are not kept
      (only kinds that occurred);
    - ``consumed``: bytes of the input that were decoded.  Equal to
      ``len(data)`` unless ``final=False`` left an unterminated last line;
    - ``lines``: physical lines consumed (so the next chunk's ``lineno`` is
      ``lineno + lines``);
    - ``copy``, ``copied``, ``copy_min``, ``copy_max``: with ``copy_group``, the
      rows of that group as binary COPY tuples (no signature, no trailer), how
      many, and their least and greatest time (None when there are none).  Those
      rows are not in ``groups``.
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
