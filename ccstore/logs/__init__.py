"""Log files in, ClusterCockpit log rows out: the formats and their parser.

:class:`LogParser` (in :mod:`ccstore.logs.parse`) turns the lines of a log file
into storage rows of kind ``log``; :mod:`ccstore.logs.syslogscan` is its fast
path for plain RFC 3164 syslog, compiled or pure Python; :mod:`ccstore.logs.formats`
reads the formats of HPC sites (archives of the big machines, journald, Slurm) and
:mod:`ccstore.logs.patterns` the formats a user defines; :mod:`ccstore.logs.clock`
reads their times.
"""
from .formats import PARSE_TAG, UNPARSED, detect_line, sniff, sniff_bytes
from .parse import FORMATS, LOGLEVELS, LogParser, log_batch, normalize_level, parse, row_to_point
from .patterns import PatternError, compile_pattern, compile_regex

__all__ = ["FORMATS", "LOGLEVELS", "PARSE_TAG", "UNPARSED", "LogParser", "PatternError",
           "compile_pattern", "compile_regex", "detect_line", "log_batch", "normalize_level",
           "parse", "row_to_point", "sniff", "sniff_bytes"]
