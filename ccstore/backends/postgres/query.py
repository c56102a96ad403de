"""Reading a PostgreSQL store: queries and counts over the segments a query's range overlaps.

Segments are read newest first, a growing group per statement (a ``UNION ALL`` of
ordered index scans), until the limit is met.  Counts of sealed segments come from
their per-minute counts for the whole minutes of the range.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Tuple

import psycopg
from psycopg import sql

from ..base import SEALED, GroupKey, QuerySpec
from .fts import fts_to_sql
from .schema import _SEG_FIELDS, MINUTE_NS, PLAIN, _floor, _ident

#: segments queried in one statement at most
MAX_UNION = 64
#: segments read by a query's first statement; each next statement reads twice as
#: many (planning one statement over every segment costs more than a second statement)
FIRST_UNION = 8


class QuerySteps:
    """Queries, counts and stored state."""

    def get_state(self, key: str) -> Optional[str]:
        row = self._read(lambda c: c.execute(
            "SELECT value FROM ccstore_state WHERE key = %s", (key,)).fetchone())
        return None if row is None else row[0]

    def _segments(self, conn: psycopg.Connection, spec: QuerySpec) -> List[tuple]:
        conds = ["kind = %s", "(state = %s OR rows > 0)"]
        args: list = [spec.kind, PLAIN]
        if spec.clusters is not None:
            conds.append("cluster = ANY(%s)")
            args.append(list(spec.clusters))
        if spec.start is not None:
            conds.append("(state = %s OR max_time >= %s)")
            args += [PLAIN, spec.start]
        if spec.end is not None:
            conds.append("(state = %s OR min_time <= %s)")
            args += [PLAIN, spec.end]
        return conn.execute(f"SELECT {_SEG_FIELDS} FROM ccstore_segments WHERE "
                            + " AND ".join(conds), args).fetchall()

    def _where(self, seg: tuple, spec: QuerySpec, text: Optional[Tuple[sql.Composable, list]],
               with_after: bool = True) -> Tuple[sql.Composable, list]:
        conds: List[sql.Composable] = []
        args: list = []
        plain = seg[4] == PLAIN
        mn, mx = seg[6], seg[7]
        if spec.start is not None and (plain or mn is None or mn < spec.start):
            conds.append(sql.SQL("time >= %s"))
            args.append(spec.start)
        if spec.end is not None and (plain or mx is None or mx > spec.end):
            conds.append(sql.SQL("time <= %s"))
            args.append(spec.end)
        for col, values in spec.columns.items():
            c, a = _any(sql.Identifier(col), values)
            conds.append(c)
            args += a
        for col, values in spec.exclude.items():
            c, a = _any(sql.Identifier(col), values, negate=True)
            conds.append(c)
            args += a
        if spec.levels is not None:
            c, a = _any(sql.Identifier("level"), spec.levels.values, spec.levels.negate)
            conds.append(c)
            args += a
        for tc in spec.tags:
            expr, eargs = _tag_expr(tc.key)
            if tc.negate:
                conds.append(sql.SQL("({e} IS NULL OR NOT ({e} = ANY(%s)))").format(e=expr))
                args += eargs + eargs + [list(tc.values)]
            else:
                conds.append(sql.SQL("{} = ANY(%s)").format(expr))
                args += eargs + [list(tc.values)]
        if text is not None:
            conds.append(text[0])
            args += text[1]
        for lit in spec.contains:
            conds.append(sql.SQL("strpos(field, %s) > 0"))
            args.append(lit)
        for lit in spec.icontains:
            conds.append(sql.SQL("strpos(lower(field), %s) > 0"))
            args.append(lit)
        if with_after and spec.after is not None:
            op = sql.SQL("<" if spec.order == "desc" else ">")
            conds.append(sql.SQL("(time, id) {} (%s, %s)").format(op))
            args += [spec.after[0], spec.after[1]]
        if not conds:
            return sql.SQL("TRUE"), args
        return sql.SQL(" AND ").join(conds), args

    def query(self, spec: QuerySpec) -> List[tuple]:
        text = fts_to_sql(spec.text, self._regexp_like) if spec.text is not None else None
        return self._read(lambda conn: self._query(conn, spec, text))

    def _query(self, conn: psycopg.Connection, spec: QuerySpec,
               text: Optional[Tuple[sql.Composable, list]]) -> List[tuple]:
        desc = spec.order == "desc"
        segs = self._segments(conn, spec)
        # one query per table; plain tables (time range unknown) first
        by_tbl: Dict[str, tuple] = {}
        for s in segs:
            have = by_tbl.get(s[3])
            if have is None:
                by_tbl[s[3]] = s
        segs = list(by_tbl.values())
        big = 1 << 62
        if desc:
            segs.sort(key=lambda s: -big if s[4] == PLAIN else -(s[7] or 0))
        else:
            segs.sort(key=lambda s: -big if s[4] == PLAIN else (s[6] or 0))
        limit = spec.limit
        found: List[tuple] = []
        direction = sql.SQL("DESC" if desc else "ASC")
        cols = sql.SQL("id, time, timestamp, name, hostname, type, typeid, stype, stypeid, "
                       "othertags::text, field")
        pos = 0
        # segments are read newest first in growing groups (each branch an ordered
        # index scan, merged) until the limit is met; planning a statement over
        # every segment costs more than the second statement it spares, and
        # full-text conditions cost more per row, so they start smaller
        group = 2 if text is not None else FIRST_UNION
        while pos < len(segs):
            if limit is not None and len(found) >= limit:
                worst = found[limit - 1][3]
                nxt = segs[pos]
                if nxt[4] != PLAIN and ((desc and (nxt[7] or 0) < worst) or
                                        (not desc and (nxt[6] or 0) > worst)):
                    break
            batch = segs[pos:pos + (group if limit is not None else MAX_UNION)]
            pos += len(batch)
            group = min(group * 2, MAX_UNION)
            parts: List[sql.Composable] = []
            args: list = []
            for s in batch:
                where, wargs = self._where(s, spec, text)
                q = sql.SQL("(SELECT %s::text, %s::text, {cols} FROM {t} WHERE {w} "
                            "ORDER BY time {d}, id {d}").format(
                    cols=cols, t=_ident(s[3]), w=where, d=direction)
                args += [s[1], s[2]] + wargs
                if limit is not None:
                    q = sql.SQL("{} LIMIT %s)").format(q)
                    args.append(limit)
                else:
                    q = sql.SQL("{})").format(q)
                parts.append(q)
            stmt = sql.SQL(" UNION ALL ").join(parts)
            if len(parts) > 1:
                stmt = sql.SQL("{} ORDER BY 4 {d}, 3 {d}").format(stmt, d=direction)
                if limit is not None:
                    stmt = sql.SQL("{} LIMIT %s").format(stmt)
                    args.append(limit)
            rows = conn.execute(stmt, args).fetchall()
            if found:
                found.extend(rows)
                found.sort(key=lambda r: (r[3], r[2]), reverse=desc)
            else:
                found = rows
            if limit is not None:
                del found[limit:]
        return found

    def count(self, spec: QuerySpec, by: Sequence[GroupKey],
              interval: Optional[int]) -> List[tuple]:
        text = fts_to_sql(spec.text, self._regexp_like) if spec.text is not None else None
        return self._read(lambda conn: self._count(conn, spec, by, interval, text))

    def _count(self, conn: psycopg.Connection, spec: QuerySpec, by: Sequence[GroupKey],
               interval: Optional[int], text) -> List[tuple]:
        """Sealed segments answer from their per-minute counts for the whole minutes
        of the range; rows are counted only in the other segments and in the
        partial minutes at the range's edges."""
        totals: Dict[tuple, int] = {}
        coverable = self._summary_usable(spec, by, interval)
        lo = hi = None  # whole minutes [lo, hi) inside the range
        if coverable:
            lo = None if spec.start is None else -(-spec.start // MINUTE_NS) * MINUTE_NS
            hi = None if spec.end is None else (spec.end + 1) // MINUTE_NS * MINUTE_NS
            if lo is not None and hi is not None and hi <= lo:
                coverable = False
        summarised: List[int] = []
        done_tbls = set()
        raw: List[Tuple[tuple, QuerySpec]] = []
        edges = []
        if coverable:
            if lo is not None and lo > spec.start:
                edges.append(replace(spec, end=lo - 1))
            if hi is not None and hi <= spec.end:
                edges.append(replace(spec, start=hi))
        for seg in self._segments(conn, spec):
            if coverable and seg[4] == SEALED:
                summarised.append(seg[0])
                for edge in edges:
                    if (seg[6] or 0) <= (edge.end if edge.end is not None else seg[6]) and \
                            (seg[7] or 0) >= (edge.start if edge.start is not None else 0):
                        raw.append((seg, edge))
            elif seg[3] not in done_tbls:
                done_tbls.add(seg[3])
                raw.append((seg, spec))
        for i in range(0, len(raw), MAX_UNION):
            parts: List[sql.Composable] = []
            args: list = []
            for seg, sp in raw[i:i + MAX_UNION]:
                exprs, eargs = _group_exprs(by, interval, seg[1])
                where, wargs = self._where(seg, sp, text, with_after=False)
                select = sql.SQL(", ").join(exprs + [sql.SQL("count(*)")])
                q = sql.SQL("(SELECT {} FROM {} WHERE {}").format(select, _ident(seg[3]), where)
                if exprs:
                    q = sql.SQL("{} GROUP BY {}").format(q, sql.SQL(", ").join(
                        sql.Literal(j + 1) for j in range(len(exprs))))
                parts.append(sql.SQL("{})").format(q))
                args += eargs + wargs
            for row in conn.execute(sql.SQL(" UNION ALL ").join(parts), args):
                if row[-1]:
                    k = tuple(row[:-1])
                    totals[k] = totals.get(k, 0) + row[-1]
        if summarised:
            for row in self._count_summaries(conn, summarised, spec, by, interval, lo, hi):
                if row[-1] is None:  # no count matched (the sum of none is NULL)
                    continue
                k = tuple(row[:-1])
                totals[k] = totals.get(k, 0) + int(row[-1])
        return sorted((k + (v,) for k, v in totals.items()),
                      key=lambda r: tuple((x is None, x) for x in r[:-1]))

    @staticmethod
    def _summary_usable(spec: QuerySpec, by: Sequence[GroupKey],
                        interval: Optional[int]) -> bool:
        """Whether per-minute counts by (name, level) can answer this count."""
        if spec.tags or spec.exclude or spec.text is not None:
            return False
        if set(spec.columns) - {"name"}:
            return False
        if any(k not in (("column", "name"), ("level", spec.level_tag), ("cluster", ""))
               for k in by):
            return False
        return interval is None or interval % MINUTE_NS == 0

    @staticmethod
    def _count_summaries(conn: psycopg.Connection, segs: List[int], spec: QuerySpec,
                         by: Sequence[GroupKey], interval: Optional[int],
                         lo: Optional[int], hi: Optional[int]) -> List[tuple]:
        exprs: List[sql.Composable] = []
        for kind, _key in by:
            if kind == "cluster":
                exprs.append(sql.SQL("s.cluster"))
            elif kind == "level":
                exprs.append(sql.SQL("c.level"))
            else:
                exprs.append(sql.SQL("c.name"))
        if interval is not None:
            exprs.append(_floor(sql.SQL("c.minute"), interval))
        conds = [sql.SQL("c.seg = ANY(%s)")]
        args: list = [segs]
        if lo is not None:
            conds.append(sql.SQL("c.minute >= %s"))
            args.append(lo)
        if hi is not None:
            conds.append(sql.SQL("c.minute < %s"))
            args.append(hi)
        if "name" in spec.columns:
            conds.append(sql.SQL("c.name = ANY(%s)"))
            args.append(list(spec.columns["name"]))
        if spec.levels is not None:
            c, a = _any(sql.SQL("c.level"), spec.levels.values, spec.levels.negate)
            conds.append(c)
            args += a
        q = sql.SQL("SELECT {} FROM ccstore_counts c JOIN ccstore_segments s ON s.id = c.seg "
                    "WHERE {}").format(sql.SQL(", ").join(exprs + [sql.SQL("sum(c.n)")]),
                                       sql.SQL(" AND ").join(conds))
        if exprs:
            q = sql.SQL("{} GROUP BY {}").format(q, sql.SQL(", ").join(
                sql.Literal(j + 1) for j in range(len(exprs))))
        return conn.execute(q, args).fetchall()


# ---------------------------------------------------------------------- SQL pieces
def _any(col: sql.Composable, values: Sequence[str], negate: bool = False
         ) -> Tuple[sql.Composable, list]:
    if len(values) == 1 and not negate:
        # "= value" rather than "= ANY(array)": an index scan on (col, time) then
        # yields rows in time order, so a merge over segments reads only what it returns
        return sql.SQL("{} = %s").format(col), [values[0]]
    if negate:
        return sql.SQL("({c} IS NULL OR NOT ({c} = ANY(%s)))").format(c=col), [list(values)]
    return sql.SQL("{} = ANY(%s)").format(col), [list(values)]


def _tag_expr(key: str) -> Tuple[sql.Composable, list]:
    return sql.SQL("(othertags::jsonb ->> %s)"), [key]


def _group_exprs(by: Sequence[GroupKey], interval: Optional[int],
                 cluster: str) -> Tuple[List[sql.Composable], list]:
    exprs: List[sql.Composable] = []
    args: list = []
    for kind, key in by:
        if kind == "column":
            exprs.append(sql.Identifier(key))
        elif kind == "level":
            exprs.append(sql.Identifier("level"))
        elif kind == "cluster":
            exprs.append(sql.SQL("%s::text"))
            args.append(cluster)
        else:
            e, a = _tag_expr(key)
            exprs.append(e)
            args += a
    if interval is not None:
        exprs.append(_floor(sql.SQL("time"), interval))
    return exprs, args
