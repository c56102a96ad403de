"""Level words, continuation lines and the RFC 3164 header: shared by the log parser
and both implementations of its syslog fast path.

:mod:`ccstore.logs.parse` and the fast path (``_syslogscan`` compiled,
``_pysyslogscan`` its pure-Python twin) import these definitions from here, so
that each is defined once and neither twin depends on the parser.
"""
from __future__ import annotations

import operator
import re
from typing import Any, Dict, List, Optional, Tuple

#: the ClusterCockpit loglevel values
LOGLEVELS = ("debug", "info", "warn", "error")

_LEVELS: Dict[str, str] = {}
for _lvl, _words in (
    ("error", "emerg emergency alert crit critical fatal failure panic severe error err e f"),
    ("warn", "warn warning w"),
    ("info", "notice info information informational verbose config i n"),
    ("debug", "debug debug1 debug2 debug3 debug4 debug5 trace fine finer finest d t"),
):
    for _w in _words.split():
        _LEVELS[_w] = _lvl
#: syslog severity (PRI & 7, journald PRIORITY) -> loglevel
_PRI_LEVEL = ("error", "error", "error", "error", "warn", "info", "info", "debug")


def normalize_level(value: Any) -> Optional[str]:
    """Map a severity name or number to a ClusterCockpit loglevel (None if unknown).

    Numbers 0-7 are syslog severities; 10-60 are bunyan/pino levels.
    """
    if isinstance(value, str):
        v = value.strip().lower()
        lvl = _LEVELS.get(v)
        if lvl is not None or not v.isdecimal():  # (the digits int() reads)
            return lvl
        value = int(v)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    n = int(value)
    if 0 <= n <= 7:
        return _PRI_LEVEL[n]
    if n >= 50:
        return "error"
    if n >= 40:
        return "warn"
    if n >= 30:
        return "info"
    if n >= 10:
        return "debug"
    return None

# a level word at the start: "error: ...", "[WARN] ...", "<info> ...", "ERROR:root:..."
_LEVEL_START = (r"[ \t]*(?:[\[<(][ \t]*[A-Za-z]{3,13}\d?[ \t]*[\]>)]"
                r"|[A-Za-z]{3,13}\d?[ \t]*:)")
_LEVEL_START_RE = re.compile(_LEVEL_START)
#: level words of _LEVEL_START (any case)
_START_WORDS = {w: lvl for w, lvl in _LEVELS.items() if len(w) >= 3}
# upper-case level words (and the error words of HPC software) and logfmt's
# level=...: a hit counts within the first _LEVEL_WINDOW characters of a message.
# One pattern per word family, each starting with a literal (so the regex engine
# skips ahead fast; one alternation of all words, or a look-behind, is many times
# slower)
_HIT_WORDS = (
    (("ERROR", "ERR"), "error"), (("WARNING", "WARN"), "warn"), (("INFO",), "info"),
    (("DEBUG",), "debug"), (("CRITICAL", "CRIT"), "error"), (("FATAL",), "error"),
    (("EMERGENCY", "EMERG"), "error"), (("ALERT",), "error"), (("PANIC",), "error"),
    (("SEVERE",), "error"), (("NOTICE",), "info"), (("TRACE",), "debug"),
    # what HPC software prints for its errors: Lustre/LNet, NVIDIA Xid reports
    (("LustreError", "LNetError"), "error"), (("Xid",), "error"),
)
_HIT_RES = tuple((re.compile("(?:%s)(?![\\w.-])" % "|".join(words)), level)
                 for words, level in _HIT_WORDS)
#: the error reports of HPC software: a message that holds one within its first
#: _LEVEL_WINDOW characters is an error whatever level the line states (NVIDIA's
#: driver logs its Xid reports at kern.warning)
_HPC_ERROR_WORDS = ("LustreError", "LNetError", "Xid")
_HPC_ERROR_RE = re.compile("(?:%s)(?![\\w.-])" % "|".join(_HPC_ERROR_WORDS))
_KV_RE = re.compile(r"l(?:evel|vl)=[\"']?([A-Za-z]+[1-5]?)")
_LEVEL_WINDOW = 80

# lines that continue the previous entry
_CONT = (
    r"[ \t]+at [\w$<]"
    r"|[ \t]*\.\.\. \d+ (?:more|common frames omitted)"
    r"|[ \t]*Caused by: "
    r"|[ \t]*Suppressed: "
    r"|[ \t]+File \""
    r"|(?:[a-zA-Z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable)(?::|$)"
    r"|Traceback \(most recent call last\):"
    r"|During handling of the above exception"
    r"|The above exception was the direct cause"
)
_CONT_RE = re.compile(_CONT)
# a cheap test that every line _CONT_RE matches passes (and few others)
_CONT_HINT = (r"[ \t]|\.\.\. |Caused by: |Suppressed: |Traceback \(|During handling"
              r"|The above exception|[a-zA-Z_$][\w$]*\.[\w$.]*(?:Exception|Error|Throwable)")

# RFC 3164: [<PRI>]Mmm dd HH:MM:SS[.frac] HOST TAG[PID]: MSG, with the level word
# and continuation checks at the start of MSG folded in (one match per line)
_FAST_SYSLOG_RE = re.compile(
    r"(?:<(\d{1,3})>)?([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)(?:\.(\d{1,9}))? +(\S+)"
    r"(?: ([^\s\[\]:]+)(?:\[[^\]\s]*\])?:(?= |$))? ?"
    r"(?:(?=(%s)))?(?:(?=(%s)))?(.*)" % (_LEVEL_START, _CONT_HINT)
)
# the same for every line of a chunk at once
_SYSLOG_LINES_RE = re.compile("^" + _FAST_SYSLOG_RE.pattern + "$", re.M)
_CONT_GROUP = operator.itemgetter(6)

# characters that do not occur in text (tab, LF, CR and ESC are allowed)
_CTRL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 27), *range(28, 32), 127])


def _frac_ns(frac: Optional[str]) -> int:
    return int((frac + "00000000")[:9]) if frac else 0


def _token_level(token: str) -> Optional[str]:
    """Level of a _LEVEL_START token (``error:``, ``[ WARN ]``), None for other words."""
    return _START_WORDS.get(token.strip(" \t[]<>():").lower())


def _level_hits(text: str) -> List[Tuple[int, str]]:
    """Sorted ``(position, level)`` of the upper-case level words and ``level=`` in ``text``.

    One scan per chunk instead of one search per line: the line loop then only
    checks whether the next hit falls within the first characters of a message.
    """
    hits = []
    for rx, level in _HIT_RES:
        for m in rx.finditer(text):
            i = m.start()
            if i and (text[i - 1].isalnum() or text[i - 1] in "_.-"):
                continue
            hits.append((i, level))
    for m in _KV_RE.finditer(text):
        level = _LEVELS.get(m.group(1).lower())
        if level is not None:
            hits.append((m.start(), level))
    hits.sort()
    return hits


def _start_level(body: str) -> Optional[str]:
    """Level named by a word at the start of ``body`` (``error:``, ``[WARN]``...)."""
    m = _LEVEL_START_RE.match(body)
    return _token_level(m.group(0)) if m is not None else None


def _level_of(body: str) -> Optional[str]:
    """Level named anywhere near the start of ``body`` (slow path of the line loop)."""
    level = _start_level(body)
    if level is None:
        for _, level in _level_hits(body[:_LEVEL_WINDOW]):
            break
    return level


def _clean_text(data: bytes) -> Optional[str]:
    """The chunk as text when it is valid UTF-8 without control characters, else None.

    CRLF line ends become LF.
    """
    if len(data.translate(None, _CTRL_BYTES)) != len(data):
        return None
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if text[-1:] == "\r":  # the newline itself was cut off by the caller
            text = text[:-1]
    return text


def _body_hits(text: str, hits: List[Tuple[int, str]], bodies: List[str]) -> Dict[int, str]:
    """Line index -> level of the first hit within the first characters of its body.

    ``bodies`` are suffixes of the lines of ``text``; hits in a line's header
    (before its body) do not count.
    """
    out: Dict[int, str] = {}
    idx = 0
    prev = 0
    n = len(text)
    for p, level in hits:
        idx += text.count("\n", prev, p)
        prev = p
        if idx in out:
            continue
        end = text.find("\n", p)
        start = (n if end < 0 else end) - len(bodies[idx])
        if p >= start:
            out[idx] = level if p < start + _LEVEL_WINDOW else ""
    return out
