"""Log files in, ClusterCockpit log rows out: the formats and their parser.

:class:`LogParser` (in :mod:`ccstore.logs.parse`) turns the lines of a log file
into storage rows of kind ``log``; :mod:`ccstore.logs.syslogscan` is its fast
path for plain RFC 3164 syslog, compiled or pure Python.
"""
from .parse import FORMATS, LOGLEVELS, LogParser, log_batch, normalize_level, parse, row_to_point

__all__ = ["FORMATS", "LOGLEVELS", "LogParser", "log_batch", "normalize_level", "parse",
           "row_to_point"]
