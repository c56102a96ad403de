"""``ccstore search / hits / facets / group / job`` on SQLite and PostgreSQL, each answer
checked against the brute-force oracle of ``tests/searchcheck.py``; ``--start -1h``
with a space on every command."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, List

import pytest
import searchcheck as sc
from hypothesis import HealthCheck, given, settings
from query.querygen import queries

import ccstore
from ccstore import cli
from ccstore.query import parse


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(--db target, every record written, backend name)."""
    if request.param == "postgres":
        target = request.getfixturevalue("postgres_dsn").fresh_database("ccs_cli")
    else:
        target = str(tmp_path_factory.mktemp("cli-search") / "search.db")
    records = sc.dataset(request.param)
    with ccstore.open(target, retention=None) as store:
        result = store.write(sc.to_lines(records))
        assert result.ok and result.written == len(records), result
    return target, records, request.param


def ccs(capsys: pytest.CaptureFixture, target: str, *args: Any, code: int = 0) -> str:
    """``ccstore --db target args...`` in this process; its stdout (stderr on failure)."""
    capsys.readouterr()
    rc = cli.main(["--db", target, *map(str, args)])
    out, err = capsys.readouterr()
    assert rc == code, err
    return out if code == 0 else err


def lines(text: str) -> List[Any]:
    return [json.loads(x) for x in text.splitlines()]


# ---------------------------------------------------------------------- search
CLI_QUERIES = ["", "xid", "host:f01[01-02] level:>=warn _time:1h", "level:>=error",
               f"job:{sc.FINISHED_JOB}", f"job:fritz/{sc.RUNNING_JOB}", "kind:event",
               f'host:"{sc.UTF8_HOST}"', f"{sc.UTF8_TAG[0]}:{sc.UTF8_TAG[1]}",
               "disk -full OR mount", '"disk full" OR ~"^x"']


@pytest.mark.parametrize("q", CLI_QUERIES)
def test_search_json_lines_are_the_oracles_records(loaded, capsys, q: str) -> None:
    target, records, _ = loaded
    got = lines(ccs(capsys, target, "search", q, "--json", "--limit", "100000"))
    sc.check_records(got, sc.expected(records, q))
    asc = lines(ccs(capsys, target, "search", q, "--json", "--order", "asc", "--limit",
                    "100000"))
    sc.check_records(asc, sc.expected(records, q), order="asc")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(q=queries)
def test_search_on_random_queries(loaded, capsys, q: str) -> None:
    target, records, backend = loaded
    if backend == "postgres" and not str(parse(q)).isascii():
        return  # PostgreSQL's full text is checked on ASCII text only
    got = lines(ccs(capsys, target, "search", "--json", "--limit", "100000", "--", q))
    sc.check_records(got, sc.expected(records, q))


@pytest.mark.parametrize("times", [
    ["--since", "2h"], ["--start", "-2h"], ["--start=-2h"], ["--start", "now-2h"],
    ["--start", "-3h", "--end", "-1h"], ["--start", "2026-12-01T10:00Z", "--end", "-100m"],
    ["--start", "1796119200", "--end", "1796119800"], ["--end", "2026-12-01"],
])
def test_search_times(loaded, capsys, times: List[str]) -> None:
    target, records, _ = loaded
    got = lines(ccs(capsys, target, "search", "--json", "--limit", "100000", *times))
    opts = dict(zip(times[::2], times[1::2])) if "=" not in times[0] else {
        "--start": times[0].split("=", 1)[1]}
    start = opts.get("--start") or (f"-{opts['--since']}" if "--since" in opts else None)
    want = sc.expected(records, "", start, opts.get("--end"))
    assert want
    sc.check_records(got, want)


def test_search_pages_with_after(loaded, capsys) -> None:
    target, records, _ = loaded
    capsys.readouterr()
    got: List[Any] = []
    after: List[str] = []
    while True:
        assert cli.main(["--db", target, "search", "kind:log level:>=warn", "--json",
                         "--limit", "25", *after]) == 0
        out, err = capsys.readouterr()
        page = lines(out)
        got += page
        if "next page: --after" not in err:
            break
        after = ["--after", err.split("--after ")[1].split(")")[0]]
        assert after[1] == page[-1]["cursor"]
    sc.check_records(got, sc.expected(records, "kind:log level:>=warn"))


def test_search_table_is_readable(loaded, capsys) -> None:
    target, records, _ = loaded
    out = ccs(capsys, target, "search", "cluster:fritz recent", "--limit", "4")
    rows = out.splitlines()
    assert rows[0].split() == ["TIME", "HOST", "NAME", "LEVEL", "MESSAGE"]
    assert len(rows) == 5 and all("recent xid" in r and r.endswith(("f0101", "f0102", "f0200"))
                                  for r in rows[1:])
    assert "error" in rows[1] and rows[1].startswith(sc.expected(records, "recent")[0]["time"]
                                                     [:19])


# ---------------------------------------------------------------------- hits, facets, group, job
def test_hits(loaded, capsys) -> None:
    target, records, _ = loaded
    span = ("2026-12-01T10:00Z", "2026-12-01T12:00Z")
    for by in ("level", "host", ""):
        got = lines(ccs(capsys, target, "hits", "kind:log", "--start", span[0], "--end", span[1],
                        "--interval", "20m", "--by", by, "--json"))
        hits = {"interval_s": 1200, "buckets": got}
        sc.check_hits(hits, sc.expected(records, "kind:log", *span), by or None, *span)
    table = ccs(capsys, target, "hits", "kind:log", "--start", span[0], "--end", span[1],
                "--interval", "1h").splitlines()
    assert table[0].split()[0] == "TIME" and table[0].split()[-1] == "TOTAL"
    assert len(table) == 1 + 3  # 10:00, 11:00 and 12:00 (the end minute included)


def test_facets(loaded, capsys) -> None:
    target, records, _ = loaded
    got = lines(ccs(capsys, target, "facets", "level:>=warn", "--field", "host,level",
                    "--field", "partition", "--limit", "3", "--json"))
    want = sc.expected(records, "level:>=warn")
    for field in ("host", "level", "partition"):
        sc.check_facet([(x["value"], x["count"]) for x in got if x["field"] == field], want,
                       field, 3)
    text = ccs(capsys, target, "facets", "level:>=warn", "--field", "level")
    assert text.splitlines()[0] == "level" and all(x.startswith("  ") for x in
                                                   text.splitlines()[1:])


def test_group(loaded, capsys) -> None:
    target, records, _ = loaded
    got = lines(ccs(capsys, target, "group", "kind:log", "--limit", "20", "--json"))
    sc.check_groups(got, sc.expected(records, "kind:log"), 20)
    text = ccs(capsys, target, "group", "recent", "--since", "3h")
    assert text.splitlines()[:4] == [
        "-" * 16, text.splitlines()[1], "-" * 16, " recent xid <num> on f<num>"]
    assert text.splitlines()[1].startswith("f[0101-0102,0200]  (9 lines, ")


def test_job(loaded, capsys) -> None:
    target, _, _ = loaded
    j = json.loads(ccs(capsys, target, "job", sc.FINISHED_JOB, "--json"))
    assert (j["cluster"], j["hosts"], j["running"]) == ("alex", "a[0001-0002]", False)
    text = ccs(capsys, target, "job", sc.RUNNING_JOB, "--cluster", "fritz")
    assert "f[0101-0102]" in text and "(running)" in text
    err = ccs(capsys, target, "job", "999999", code=2)
    assert "999999" in err


# ---------------------------------------------------------------------- mistakes
@pytest.mark.parametrize("args, words", [
    (["search", "level:>="], ["column"]),
    (["search", '"disk full'], ["column"]),
    (["search", "cluster:nosuch"], ["unknown cluster", "nosuch"]),
    (["search", "--start", "1h"], ["--start", "-1h"]),
    (["search", "--since", "-1h"], ["--since"]),
    (["search", "--since", "1h", "--start", "-2h"], ["--since", "--start"]),
    (["hits", "--interval", "fortnight"], ["fortnight"]),
    (["group", "job:999999"], ["999999"]),
])
def test_mistakes_are_usage_errors(loaded, capsys, args: List[str], words: List[str]) -> None:
    err = ccs(capsys, loaded[0], *args, code=2)
    for w in words:
        assert w in err


# ---------------------------------------------------------------------- --start -1h
@pytest.mark.parametrize("command", [
    ["query"], ["query", "--kind", "event"], ["count"], ["search"], ["hits"], ["facets"],
    ["group"],
])
def test_a_relative_start_after_a_space_works_on_every_command(loaded, capsys,
                                                                command: List[str]) -> None:
    target = loaded[0]
    spaced = ccs(capsys, target, *command, "--start", "-1h", "--end", "-1m")
    joined = ccs(capsys, target, *command, "--start=-1h", "--end=-1m")
    assert spaced == joined


def test_retention_now_takes_a_relative_time(tmp_path, capsys) -> None:
    db = str(tmp_path / "r.db")
    with ccstore.open(db) as store:
        store.write(sc.to_lines(sc.extra_records(1_796_119_200 + 86400 * 3)))
    out = ccs(capsys, db, "retention", "--retention", "1h", "--now", "-1h")
    assert out.startswith("removed ")


def test_dash_values_are_attached_only_to_options_taking_one() -> None:
    p = cli.build_parser()
    assert cli.attach_dash_values(p, ["search", "--start", "-1h", "--json", "-x"]) == [
        "search", "--start=-1h", "--json", "-x"]
    assert cli.attach_dash_values(p, ["query", "--text", "--json"]) == [
        "query", "--text", "--json"]
    assert cli.attach_dash_values(p, ["search", "--", "--start", "-1h"]) == [
        "search", "--", "--start", "-1h"]


def test_search_as_a_command(loaded) -> None:
    target, records, _ = loaded
    env = dict(os.environ, TZ="UTC")
    p = subprocess.run([sys.executable, "-m", "ccstore", "--db", target, "search",
                        "host:f01[01-02]", "--start", "-2h", "--json"],
                       capture_output=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    sc.check_records(lines(p.stdout.decode()), sc.expected(records, "host:f01[01-02]", "-2h"))
