"""The query language of every interface, modelled on the filter part of LogsQL.

``disk full`` (all words), ``"disk full"`` (a phrase), ``Xid*`` (a prefix),
``~"Xid [0-9]+"`` (a regular expression), ``host:node[001-064]`` (a hostlist),
``level:>=warn``, ``function:start_job`` (any tag), ``_time:1h``, ``job:alex/4711``,
combined with ``AND`` (or a space), ``OR``, ``NOT``/``-`` and parentheses.

:func:`parse` gives the syntax tree (:mod:`.nodes`); :func:`resolve` replaces job
filters by the job's hosts and window (:mod:`.jobs`); :func:`plan` splits the tree
into filters a store answers with its indexes and a residual; :func:`match`
evaluates a tree on a record (the output dict of :mod:`.fields`).  The grammar is
in ``docs/design/query.md``.
"""
from __future__ import annotations

from .evaluate import compile_query, match
from .fields import DEFAULTS, FIELDS, from_result, from_row
from .group import Group, group, mask
from .jobs import JobError, JobInfo, JobNotFound, find_job, jobs_in, resolve
from .parser import QuerySyntaxError, parse
from .plan import Plan, Pushdown, plan

__all__ = [
    "parse", "QuerySyntaxError", "match", "compile_query", "plan", "Plan", "Pushdown",
    "find_job", "resolve", "jobs_in", "JobInfo", "JobError", "JobNotFound",
    "mask", "group", "Group", "FIELDS", "DEFAULTS", "from_result", "from_row",
]
