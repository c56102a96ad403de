"""The headers of a chunk of lines of one format: the pure-Python twin, the reference.

:class:`ccstore.logs.LogParser` reads a chunk of a one-line format at once
(``syslog_export``, ``bgl``, ``lanl``, ``journal_json``, ``slurm``); :func:`chunk_headers` gives the
header of every line, as the format's header function
(:mod:`ccstore.logs.formats`) does.  ``ccstore.logs._headerscan`` is the compiled
implementation, with the same results on every input.
"""
from __future__ import annotations

from typing import List, Optional

from . import formats as _f
from ._grammar import _clean_text

__all__ = ["SCANNED_FORMATS", "chunk_headers"]

#: the formats :func:`chunk_headers` reads
SCANNED_FORMATS = ("syslog_export", "bgl", "lanl", "journal_json", "slurm")
_HEADER = {"syslog_export": _f.header_syslog_export, "bgl": _f.header_bgl,
           "lanl": _f.header_lanl, "journal_json": _f.header_journal_json}


def chunk_headers(data: bytes, format: str,
                  source: Optional[_f.SlurmFormat] = None) -> Optional[List[_f.Header]]:
    """The header of each line of ``data`` (whole lines, ``\\n``-separated, no final
    newline, CRLF allowed) in ``format`` (one of :data:`SCANNED_FORMATS`), or None when
    any line is not in it or the chunk is not clean text (valid UTF-8 without control
    characters).  ``source``: the :class:`~ccstore.logs.formats.SlurmFormat` of a
    ``slurm`` file (its clock, daemon and host)."""
    if not isinstance(data, bytes):
        raise TypeError(f"chunk_headers: bytes expected, not {type(data).__name__}")
    header = source.header if format == "slurm" else _HEADER[format]
    text = _clean_text(data)
    if text is None:
        return None
    hdrs = list(map(header, text.split("\n")))
    return None if None in hdrs else hdrs
