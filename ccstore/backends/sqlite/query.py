"""Reading a SQLite store: queries and counts over the segments a query's range overlaps.

Each segment is read through the index that fits (the index file's host or time
index of a sealed segment, the head index of an unsealed one, or its full-text
table), in one snapshot; records are ordered by ``(time, id)``.  Counts of whole
sealed segments come from their per-minute counts.
"""
from __future__ import annotations

import json
import operator
from array import array
from dataclasses import replace
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import apsw

from ...rows import NS_PER_S
from ..base import SEALED, GroupKey, QuerySpec, TagCond
from .fts import REGEXP, _plain_terms, literals_query
from .schema import _IX, _NO_TIME, _SEG_FIELDS, _index_tables, _Segment, quote_ident

SELECT_COLUMNS = ("id", "time", "timestamp", "name", "hostname", "type", "typeid", "stype",
                  "stypeid", "othertags", "field")


class QuerySteps:
    """Queries and counts."""

    def _segments(self, conn: apsw.Connection, spec: QuerySpec,
                  with_after: bool = False) -> List[_Segment]:
        sql = [f"SELECT {_SEG_FIELDS} FROM ccstore_segments WHERE kind=? AND rows > 0 "
               "AND tbl != ''"]
        args: list = [spec.kind]
        if spec.clusters is not None:
            sql.append(f"AND cluster IN ({', '.join('?' * len(spec.clusters))})")
            args.extend(spec.clusters)
        if spec.start is not None:
            sql.append("AND max_time >= ?")
            args.append(spec.start)
        if spec.end is not None:
            sql.append("AND min_time <= ?")
            args.append(spec.end)
        if with_after and spec.after is not None:
            # a page after a record: no segment lying wholly beyond it
            sql.append("AND (min_time IS NULL OR min_time <= ?)" if spec.order == "desc"
                       else "AND (max_time IS NULL OR max_time >= ?)")
            args.append(spec.after[0])
        segs = [_Segment(*r[:3], bool(r[3]), *r[4:]) for r in conn.execute(" ".join(sql), args)]
        needed = {tc.key for tc in spec.tags if not tc.negate}
        if needed:  # a segment none of whose rows carries a tag asked for has no match
            absent = self._absent_tags(conn, segs, needed)
            segs = [s for s in segs if not absent.get(s.id)]
        return segs

    def _absent_tags(self, conn: apsw.Connection, segs: List[_Segment],
                     keys: Iterable[str]) -> Dict[int, set]:
        """For the sealed segments with facet counts: which of the tag ``keys`` none of
        their rows carries."""
        ids = [s.id for s in segs if s.state == SEALED]
        keys = sorted(set(keys))
        if not ids or not keys:
            return {}
        present: Dict[int, set] = {}
        for seg, field, value in conn.execute(
                f"SELECT seg, field, value FROM ccstore_facets WHERE seg IN "
                f"({', '.join('?' * len(ids))}) AND (field = '*' OR (field = '#' AND value IN "
                f"({', '.join('?' * len(keys))})))", ids + keys):
            have = present.setdefault(seg, set())
            if field == "#":
                have.add(value)
        return {seg: set(keys) - have for seg, have in present.items()}

    def _source(self, seg: _Segment, spec: QuerySpec, counting: bool = False) -> Optional[str]:
        """Which index of sealed ``seg`` in the index file drives the read:
        ``"host"``, ``"time"``, or None (the table alone, or its own indexes)."""
        if not seg.ix or seg.compact:
            return None
        if "hostname" in spec.columns:
            return "host"
        if spec.text is not None or (seg.fts and literals_query(spec.literals)):
            return None  # the full-text index finds the rows
        if counting and not self._cuts(seg, spec):
            return None  # every row of the segment counts: a plain scan
        return "time"

    @staticmethod
    def _bounds(seg: _Segment, spec: QuerySpec) -> Tuple[Optional[int], Optional[int]]:
        """The first and last time a read of ``seg`` must test, None where every row
        of ``seg`` passes (its floor hides the rows below it)."""
        start = spec.start
        if seg.floor is not None and (start is None or start < seg.floor):
            start = seg.floor
        if start is not None and seg.min_time is not None and seg.min_time >= start:
            start = None
        end = spec.end
        if end is not None and seg.max_time is not None and seg.max_time <= end:
            end = None
        return start, end

    def _cuts(self, seg: _Segment, spec: QuerySpec) -> bool:
        """Whether the time range of ``spec`` leaves out part of ``seg``."""
        return self._bounds(seg, spec) != (None, None)

    def _from(self, seg: _Segment, via: Optional[str]) -> str:
        if seg.compact:
            return "s"  # its rows loaded into the scratch table (compact.py)
        q = quote_ident(seg.tbl)
        if via is None:
            return q
        host, tm = _index_tables(seg.id)
        x = quote_ident(host if via == "host" else tm)
        # CROSS JOIN: the index walks, the table is looked up by row id
        return f"{_IX}.{x} AS x CROSS JOIN {q} AS t ON t.id = x.rid"

    def _where(self, conn: apsw.Connection, seg: _Segment, spec: QuerySpec,
               with_after: bool = True, via: Optional[str] = None) -> Tuple[str, list]:
        conds: List[str] = []
        args: list = []
        # read through an index table, conditions on its columns (x.h is the
        # hostname, x.tm the time, NULL stored as _NO_TIME) bound its walk
        tm, rid = _order_columns(via)
        start, end = self._bounds(seg, spec)
        if start is not None:
            conds.append(f"{tm} >= ?")
            args.append(start)
        if end is not None:
            conds.append(f"{tm} <= ?")
            args.append(end)
            if via and start is None:
                conds.append("x.tm > ?")  # a NULL time fails a time condition
                args.append(_NO_TIME)
        for col, values in spec.columns.items():
            conds.append(_in_cond("x.h" if via == "host" and col == "hostname" else col,
                                  len(values)))
            args.extend(values)
        if "hostname" in spec.columns and seg.state != SEALED:
            ids = self._head_ids(conn, seg, spec.columns["hostname"])
            if ids is not None and not ids:
                conds.append("0")  # none of these hosts wrote here
            elif ids is not None:
                conds.append(_ID_IN_ARRAY)
                args.append(_bind_ids(ids))
        for col, values in spec.exclude.items():
            conds.append(_in_cond(col, len(values), negate=True))
            args.extend(values)
        if spec.levels is not None:
            conds.append(_in_cond("level", len(spec.levels.values), spec.levels.negate))
            args.extend(spec.levels.values)
        for tc in spec.tags:
            sql, targs = _tag_cond(tc)
            conds.append(sql)
            args.extend(targs)
        if spec.text is not None:
            if seg.fts:
                fq = "s_fts" if seg.compact else quote_ident(seg.tbl + "_fts")
                conds.append(f"id IN (SELECT rowid FROM {fq} WHERE {fq} MATCH ?)")
                args.append(spec.text)
            else:
                for word in _plain_terms(spec.text):
                    conds.append("instr(lower(field), ?) > 0")
                    args.append(word)
        if spec.contains or spec.icontains:
            words = literals_query(spec.literals) if seg.fts and not seg.compact else None
            if words:  # the words of the literals narrow the read, instr decides
                fq = quote_ident(seg.tbl + "_fts")
                conds.append(f"id IN (SELECT rowid FROM {fq} WHERE {fq} MATCH ?)")
                args.append(words)
            for lit in spec.contains:
                conds.append("instr(field, ?) > 0")
                args.append(lit)
            for lit in spec.icontains:
                conds.append("instr(lower(field), ?) > 0")
                args.append(lit)
        for pattern in spec.regex:
            conds.append(f"{REGEXP}(?, field)")
            args.append(pattern)
        if with_after and spec.after is not None:
            t, i = spec.after
            op = "<" if spec.order == "desc" else ">"
            conds.append(f"({tm} {op} ? OR ({tm} = ? AND {rid} {op} ?))")
            args.extend((t, t, i))
        return (" AND ".join(conds) or "1"), args

    def query(self, spec: QuerySpec) -> List[tuple]:
        return self._read(self._query, spec)

    def _query(self, conn: apsw.Connection, spec: QuerySpec) -> List[tuple]:
        desc = spec.order == "desc"
        segs = self._segments(conn, spec, with_after=True)
        # visit the segments most likely to hold the first records first, and stop
        # once no remaining segment can beat the records already found
        segs.sort(key=(lambda s: -(s.max_time or 0)) if desc else (lambda s: s.min_time or 0))
        limit = spec.limit
        found: List[tuple] = []
        cols = ", ".join(SELECT_COLUMNS)
        direction = "DESC" if desc else "ASC"
        merged = True  # found is in result order, cut to limit
        for seg in segs:
            if limit is not None and len(found) >= limit:
                if not merged:
                    found.sort(key=_ORDER_KEY, reverse=desc)  # sorted runs: linear in C
                    del found[limit:]
                    merged = True
                worst = found[limit - 1][3]
                if (desc and (seg.max_time or 0) < worst) or (
                        not desc and (seg.min_time or 0) > worst):
                    break
            if seg.compact:
                rows = self._select_rows(conn, seg, spec, self._bounds(seg, spec))
                if rows is not None:
                    if rows:
                        found.extend(map((seg.cluster, seg.kind).__add__, rows))
                        merged = False
                    continue
            via = self._source(seg, spec)
            where, args = self._where(conn, seg, spec, via=via)
            tm, rid = _order_columns(via)
            sql = (f"SELECT {cols} FROM {self._from(seg, via)} WHERE {where} "
                   f"ORDER BY {tm} {direction}, {rid} {direction}")
            if limit is not None:
                sql += " LIMIT ?"
                args.append(limit)
            rows = self._run(self._reading(conn, seg, spec), sql, args)
            if rows:
                # cluster and kind are added here: cheaper than SQLite handing
                # out the same two strings with every row
                found.extend(map((seg.cluster, seg.kind).__add__, rows))
                merged = False
        if not merged:
            found.sort(key=_ORDER_KEY, reverse=desc)
            if limit is not None:
                del found[limit:]
        return found

    def _reading(self, conn: apsw.Connection, seg: _Segment, spec: QuerySpec) -> apsw.Connection:
        """The connection a read of ``seg`` runs on: ``conn``, or for a compacted
        segment the scratch database, loaded with the rows that may match."""
        if not seg.compact:
            return conn
        return self._load_scratch(conn, seg, spec, self._bounds(seg, spec))

    def _run(self, conn: apsw.Connection, sql: str, args: Sequence) -> List[tuple]:
        try:
            return conn.execute(sql, args).fetchall()
        except apsw.SQLError as exc:
            if "fts5" in str(exc):
                raise ValueError(f"invalid full-text query: {exc}") from None
            raise

    def count(self, spec: QuerySpec, by: Sequence[GroupKey],
              interval: Optional[int]) -> List[tuple]:
        return self._read(self._count, spec, by, interval)

    def _count(self, conn: apsw.Connection, spec: QuerySpec, by: Sequence[GroupKey],
               interval: Optional[int]) -> List[tuple]:
        totals: Dict[tuple, int] = {}
        summarised: List[int] = []
        segs = self._segments(conn, spec)
        absent = self._absent_tags(conn, segs, [k for kind, k in by if kind == "tag"])
        for seg in segs:
            if self._summary_covers(seg, spec, by, interval, absent.get(seg.id, ())):
                summarised.append(seg.id)
                continue
            exprs, eargs = _group_exprs(by, "time", interval, seg.cluster)
            via = self._source(seg, spec, counting=True)
            where, wargs = self._where(conn, seg, spec, with_after=False, via=via)
            select = ", ".join(exprs + ["count(*)"])
            group = ", ".join(str(i + 1) for i in range(len(exprs)))
            sql = f"SELECT {select} FROM {self._from(seg, via)} WHERE {where}"
            if group:
                sql += f" GROUP BY {group}"
            for row in self._run(self._reading(conn, seg, spec), sql, eargs + wargs):
                if row[-1]:
                    totals[row[:-1]] = totals.get(row[:-1], 0) + row[-1]
        if summarised:
            for row in self._count_summaries(conn, summarised, spec, by, interval):
                totals[row[:-1]] = totals.get(row[:-1], 0) + row[-1]
        return sorted((k + (v,) for k, v in totals.items()),
                      key=lambda r: tuple((x is None, x) for x in r[:-1]))

    def facets(self, spec: QuerySpec, by: Sequence[GroupKey]) -> List[Dict[object, int]]:
        return self._read(self._facets, spec, by)

    def _facets(self, conn: apsw.Connection, spec: QuerySpec,
                by: Sequence[GroupKey]) -> List[Dict[object, int]]:
        """Sealed segments answer from their facet counts: those the spec takes whole,
        and those it cuts on one side that it takes mostly, less the rows of the part
        it leaves out.  The other segments are read once, grouped by every key."""
        out: List[Dict[object, int]] = [{} for _ in by]
        segs = self._segments(conn, spec)
        done, less = self._facet_summaries(conn, segs, spec, by, out)
        for seg in segs:
            if seg.id not in done:
                self._facet_rows(conn, seg, spec, by, out, 1)
            elif seg.id in less:
                self._facet_rows(conn, seg, less[seg.id], by, out, -1)
        return out

    def _facet_rows(self, conn: apsw.Connection, seg: _Segment, spec: QuerySpec,
                    by: Sequence[GroupKey], out: List[Dict[object, int]], sign: int) -> None:
        """Add (``sign`` 1) or take away (-1) the counts of the rows of ``seg`` that
        ``spec`` selects."""
        exprs, eargs = _group_exprs(by, "time", None, seg.cluster)
        via = self._source(seg, spec, counting=True)
        if via == "time":
            via = None  # grouping much of a segment: a scan beats lookups by row id
        where, wargs = self._where(conn, seg, spec, with_after=False, via=via)
        group = ", ".join(str(i + 1) for i in range(len(exprs)))
        sql = (f"SELECT {', '.join(exprs + ['count(*)'])} FROM {self._from(seg, via)} "
               f"WHERE {where}" + (f" GROUP BY {group}" if group else ""))
        for row in self._run(self._reading(conn, seg, spec), sql, eargs + wargs):
            n = row[-1] * sign
            for tally, value in zip(out, row):
                if value is not None:
                    tally[value] = tally.get(value, 0) + n

    def _facet_summaries(self, conn: apsw.Connection, segs: List[_Segment], spec: QuerySpec,
                         by: Sequence[GroupKey], out: List[Dict[object, int]]
                         ) -> Tuple[set, Dict[int, QuerySpec]]:
        """Add the facet counts of the sealed segments that ``spec`` takes whole or
        mostly to ``out``; return their ids, and for those it cuts, the spec of the
        part it leaves out."""
        if spec.columns or spec.exclude or spec.levels or spec.tags or spec.text is not None:
            return set(), {}
        whole: Dict[int, _Segment] = {}
        less: Dict[int, QuerySpec] = {}
        for s in segs:
            if s.state != SEALED or s.floor is not None or s.min_time is None \
                    or s.max_time is None:
                continue
            lo_cut = spec.start is not None and s.min_time < spec.start
            hi_cut = spec.end is not None and s.max_time > spec.end
            if not lo_cut and not hi_cut:
                whole[s.id] = s
            elif lo_cut != hi_cut:
                span = max(s.max_time - s.min_time, 1)
                if lo_cut and (s.max_time - spec.start) * 2 > span:
                    less[s.id] = replace(spec, start=None, end=spec.start - 1)
                elif hi_cut and (spec.end - s.min_time) * 2 > span:
                    less[s.id] = replace(spec, start=spec.end + 1, end=None)
                else:
                    continue
                whole[s.id] = s
        if not whole:
            return set(), {}
        fields = []
        for kind, key in by:
            fields.append(key if kind == "column" else "level" if kind == "level"
                          else "tag:" + key if kind == "tag" else None)
        tag_keys = {key for kind, key in by if kind == "tag"}
        columns = {f for (kind, _), f in zip(by, fields) if kind != "tag" and f is not None}
        marks = ", ".join("?" * len(whole))
        usable = set()
        capped = set()
        by_index = set()  # segments whose hostname counts the host index gives
        for seg, field, value in conn.execute(
                f"SELECT seg, field, value FROM ccstore_facets WHERE seg IN ({marks}) "
                "AND field IN ('*', '!')", list(whole)):
            if field == "*":
                usable.add(seg)
            elif value in tag_keys:
                capped.add(seg)  # too many values of a tag asked for: counted from rows
            elif (value == "hostname" and "hostname" in columns and whole[seg].ix
                  and not whole[seg].compact):
                by_index.add(seg)
            elif value in columns:
                capped.add(seg)  # likewise a column
        usable -= capped
        if not usable:
            return usable, {}
        ids = sorted(usable)
        for seg_id in sorted(by_index & usable):
            slots = [i for i, k in enumerate(by) if k == ("column", "hostname")]
            host_from = self._from(whole[seg_id], "host")
            for value, n in conn.execute(f"SELECT x.h, count(*) FROM {host_from} GROUP BY 1"):
                for i in slots:
                    out[i][value] = out[i].get(value, 0) + n
        wanted = sorted({f for f in fields if f is not None})
        if wanted:
            slot = {f: [i for i, g in enumerate(fields) if g == f] for f in wanted}
            for field, value, n in conn.execute(
                    f"SELECT field, value, sum(n) FROM ccstore_facets WHERE seg IN "
                    f"({', '.join('?' * len(ids))}) AND field IN "
                    f"({', '.join('?' * len(wanted))}) GROUP BY 1, 2", ids + wanted):
                if value is not None:
                    for i in slot[field]:
                        out[i][value] = out[i].get(value, 0) + n
        for i, f in enumerate(fields):
            if f is None:  # the cluster: every row of its segments
                for seg_id in ids:
                    seg = whole[seg_id]
                    out[i][seg.cluster] = out[i].get(seg.cluster, 0) + seg.rows
        return usable, {k: v for k, v in less.items() if k in usable}

    def _summary_covers(self, seg: _Segment, spec: QuerySpec, by: Sequence[GroupKey],
                        interval: Optional[int], absent: Iterable[str] = ()) -> bool:
        """Whether the per-minute summary of ``seg`` answers this count exactly
        (a tag in ``absent``, which no row of ``seg`` carries, has no value there)."""
        if (seg.state != SEALED or seg.floor is not None or spec.tags or spec.exclude
                or spec.text is not None):
            return False
        if set(spec.columns) - {"name"}:
            return False
        if any(k not in (("column", "name"), ("level", spec.level_tag), ("cluster", ""))
               and not (k[0] == "tag" and k[1] in absent) for k in by):
            return False
        if interval is not None and interval % (60 * NS_PER_S):
            return False
        inside_start = spec.start is None or (seg.min_time or 0) >= spec.start
        inside_end = spec.end is None or (seg.max_time or 0) <= spec.end
        return inside_start and inside_end

    def _count_summaries(self, conn: apsw.Connection, segs: List[int], spec: QuerySpec,
                         by: Sequence[GroupKey], interval: Optional[int]) -> List[tuple]:
        exprs: List[str] = []
        args: list = []
        for kind, key in by:
            if kind == "cluster":
                exprs.append("(SELECT cluster FROM ccstore_segments s WHERE s.id = c.seg)")
            elif kind == "level":
                exprs.append("c.level")
            elif kind == "tag":
                exprs.append("NULL")  # a tag none of these segments' rows carries
            else:
                exprs.append("c.name")
        if interval is not None:
            step = interval // NS_PER_S
            exprs.append(f"((c.minute - (((c.minute % {step}) + {step}) % {step})) "
                         f"* {NS_PER_S})")
        conds = [f"c.seg IN ({', '.join('?' * len(segs))})"]
        args.extend(segs)
        if "name" in spec.columns:
            conds.append(_in_cond("c.name", len(spec.columns["name"])))
            args.extend(spec.columns["name"])
        if spec.levels is not None:
            conds.append(_in_cond("c.level", len(spec.levels.values), spec.levels.negate))
            args.extend(spec.levels.values)
        select = ", ".join(exprs + ["sum(c.n)"])
        sql = f"SELECT {select} FROM ccstore_counts c WHERE {' AND '.join(conds)}"
        if exprs:
            sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(exprs)))
        return conn.execute(sql, args).fetchall()


#: (time, id) of a result row: the total order of records
_ORDER_KEY = operator.itemgetter(3, 2)


def _order_columns(via: Optional[str]) -> Tuple[str, str]:
    """The (time, id) columns of a read: the index table's when it reads through one."""
    return ("x.tm", "x.rid") if via else ("time", "id")


if hasattr(apsw, "carray"):  # APSW 3.50+: the array is read in C, without the GIL
    _ID_IN_ARRAY = "id IN carray(?)"
    _bind_ids = apsw.carray
else:
    _ID_IN_ARRAY = "id IN (SELECT value FROM json_each(?))"

    def _bind_ids(ids: array) -> str:
        return json.dumps(ids.tolist())


# ---------------------------------------------------------------------- SQL pieces
def _in_cond(col: str, n: int, negate: bool = False) -> str:
    marks = ", ".join("?" * n)
    if negate:
        return f"({col} IS NULL OR {col} NOT IN ({marks}))"
    return f"{col} IN ({marks})"


def _json_path(key: str) -> Optional[str]:
    """A JSON path naming one object key, or None when SQLite's path syntax can't."""
    if '"' in key or "\\" in key or "\x00" in key:
        return None
    return f'$."{key}"'


def _tag_cond(tc: TagCond) -> Tuple[str, list]:
    marks = ", ".join("?" * len(tc.values))
    path = _json_path(tc.key)
    if path is not None:
        expr = "json_extract(othertags, ?)"
        if tc.negate:
            return (f"({expr} IS NULL OR {expr} NOT IN ({marks}))",
                    [path, path, *tc.values])
        return f"{expr} IN ({marks})", [path, *tc.values]
    sub = f"EXISTS (SELECT 1 FROM json_each(othertags) j WHERE j.key = ? AND j.value IN ({marks}))"
    return (f"NOT {sub}" if tc.negate else sub), [tc.key, *tc.values]


def _group_exprs(by: Sequence[GroupKey], time_col: str, interval: Optional[int],
                 cluster: str) -> Tuple[List[str], list]:
    exprs: List[str] = []
    args: list = []
    for kind, key in by:
        if kind == "column":
            exprs.append(key)
        elif kind == "level":
            exprs.append("level")
        elif kind == "cluster":
            exprs.append("?")
            args.append(cluster)
        else:
            path = _json_path(key)
            if path is None:
                raise ValueError(f"cannot group by tag key {key!r}: quotes and backslashes "
                                 "are not supported there")
            exprs.append("json_extract(othertags, ?)")
            args.append(path)
    if interval is not None:
        exprs.append(f"({time_col} - ((({time_col} % {int(interval)}) + {int(interval)}) "
                     f"% {int(interval)}))")
    return exprs, args
