"""The query language over REST (/api/search, hits, facets, group, job) against a real
server process on SQLite and PostgreSQL, each answer checked against the brute-force
oracle of ``tests/searchcheck.py``; strict parameters; UTF-8 query strings."""
from __future__ import annotations

import time
import urllib.parse
from typing import Any, Dict, Optional

import pytest
import searchcheck as sc
from hypothesis import HealthCheck, given, settings
from query.querygen import queries
from srvutil import ServerProcess, postgres_storage, sqlite_storage, write_config

from ccstore.query import parse
from ccstore.server import api
from ccstore.timesyntax import format_iso


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(server, every record written, backend name)."""
    d = tmp_path_factory.mktemp(f"search-{request.param}")
    if request.param == "postgres":
        pg = request.getfixturevalue("postgres_dsn")
        storage = postgres_storage(pg, pg.fresh_database("ccs_search"))
    else:
        storage = sqlite_storage(d / "search.db")
    storage["retention_time"] = "240000h"
    config = write_config(d, storage=storage)
    server = ServerProcess(d, ["-config", str(config)]).start()
    records = sc.dataset(request.param)
    half = len(records) // 2
    for part in (records[:half], records[half:]):
        r = server.write(sc.to_lines(part).decode())
        assert r.status == 204, r
    yield server, records, request.param
    server.kill()


def get(server: ServerProcess, path: str, status: int = 200, **params: Any) -> Any:
    """GET ``path`` with the parameters percent-encoded as UTF-8; the JSON answer."""
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    r = server.call("GET", path + ("?" + query if query else ""))
    assert r.status == status, r
    return r.json()


def search(server: ServerProcess, q: str, **params: Any) -> Dict[str, Any]:
    return get(server, "/api/search", q=q, **params)


# ---------------------------------------------------------------------- search
@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(q=queries)
def test_search_answers_what_the_oracle_answers(loaded, q: str) -> None:
    server, records, backend = loaded
    if backend == "postgres" and not str(parse(q)).isascii():
        return  # PostgreSQL's full text is checked on ASCII text only
    answer = search(server, q, limit=100_000)
    sc.check_records(answer["records"], sc.expected(records, q))
    assert answer["next"] is None


HPC_QUERIES = [
    "",
    "xid",
    "host:f01[01-02] level:>=warn _time:1h",
    "host:f0[101-200] level:>=warn _time:2h",
    "level:>=error OR function:start_job",
    f"job:{sc.FINISHED_JOB}",
    f"job:alex/{sc.FINISHED_JOB} level:>=warn",
    f"job:{sc.RUNNING_JOB}",
    f"job:fritz/{sc.RUNNING_JOB} -host:f0102",
    "kind:event _time:[2026-12-01T10:00Z, 2026-12-01T10:30Z)",
    'cluster:fritz "recent xid"',
    f'host:"{sc.UTF8_HOST}"',
    f"{sc.UTF8_TAG[0]}:{sc.UTF8_TAG[1]}",
]


@pytest.mark.parametrize("q", HPC_QUERIES)
def test_the_questions_admins_ask(loaded, q: str) -> None:
    server, records, _ = loaded
    want = sc.expected(records, q)
    assert want or q.startswith("job:fritz"), "the data set answers each question"
    sc.check_records(search(server, q)["records"], want)
    asc = search(server, q, order="asc")["records"]
    sc.check_records(asc, want, order="asc")


@pytest.mark.parametrize("start, end", [
    ("1796119200", "1796119800"),  # Unix seconds: the end second whole
    ("1796119200000", "1796119799999"),  # milliseconds
    ("2026-12-01T10:00Z", "2026-12-01T10:10Z"),  # the end minute whole
    ("2026-12-01T10:05:00+00:00", None),
    (None, "2026-12-01"),  # the whole day
    ("-2h", None),
    ("now-100m", "now"),
])
def test_start_and_end_take_the_one_time_syntax(loaded, start: Optional[str],
                                                end: Optional[str]) -> None:
    server, records, _ = loaded
    got = search(server, "", start=start, end=end, limit=100_000)["records"]
    want = sc.expected(records, "", start=start, end=end)
    assert want
    sc.check_records(got, want)


def test_start_and_end_intersect_the_queried_time(loaded) -> None:
    server, records, _ = loaded
    q = "_time:[2026-12-01T10:00Z, 2026-12-01T11:00Z)"
    got = search(server, q, start="2026-12-01T10:30Z", limit=100_000)["records"]
    want = sc.expected(records, q, start="2026-12-01T10:30Z")
    assert want and len(want) < len(sc.expected(records, q))
    sc.check_records(got, want)


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_paging_with_next_gives_every_record_once(loaded, order: str) -> None:
    server, records, _ = loaded
    q = "kind:log level:>=warn"
    pages = []
    after = None
    while True:
        answer = search(server, q, limit=17, order=order, after=after)
        pages.append(answer["records"])
        after = answer["next"]
        if after is None:
            break
        assert len(answer["records"]) == 17 and after == answer["records"][-1]["cursor"]
    got = [r for page in pages for r in page]
    sc.check_records(got, sc.expected(records, q), order=order)
    assert len(pages) > 3


def test_default_limit_and_order(loaded) -> None:
    server, records, _ = loaded
    got = search(server, "")["records"]
    assert len(got) == min(1000, len(records))
    assert got[0]["ts_ns"] == max(r["ts_ns"] for r in records)


# ---------------------------------------------------------------------- UTF-8
def test_utf8_in_the_query_string(loaded) -> None:
    server, records, backend = loaded
    for q in (f"host:{sc.UTF8_HOST}", f'{sc.UTF8_TAG[0]}:"{sc.UTF8_TAG[1]}"',
              f"{sc.UTF8_TAG[0]}:{sc.UTF8_TAG[1]} kind:log"):
        want = sc.expected(records, q)
        assert len(want) == 1
        sc.check_records(search(server, q)["records"], want)
    if backend == "sqlite":  # PostgreSQL's data set has ASCII messages only
        q = f'~"{sc.UTF8_WORD}"'
        want = sc.expected(records, q)
        assert len(want) == 1
        sc.check_records(search(server, q)["records"], want)
        sc.check_records(search(server, sc.UTF8_WORD)["records"], want)


def test_a_utf8_cluster_parameter_of_a_write(loaded) -> None:
    server, records, _ = loaded
    rec = sc.make_record("zürich", "log", 1796119200, "ccb", "h1", {"loglevel": "info"},
                         "grüezi")
    line = sc.to_lines([rec]).decode().replace(",cluster=zürich", "")
    r = server.write(line, "cluster=" + urllib.parse.quote("zürich"))
    assert r.status == 204, r
    records.append(rec)  # the oracle of the later tests has it too
    sc.check_records(search(server, "cluster:zürich")["records"], [rec])


def test_a_query_string_not_utf8_is_refused(loaded) -> None:
    server = loaded[0]
    r = server.call("GET", "/api/search?q=%FF%FE")
    assert r.status == 400 and "UTF-8" in r.json()["error"]


# ---------------------------------------------------------------------- strictness
@pytest.mark.parametrize("path, params, words", [
    ("/api/search", {"qq": "x"}, ["unknown parameter 'qq'"]),
    ("/api/search", {"q": "level:>=", "limit": 5}, ["column"]),
    ("/api/search", {"q": '"disk full'}, ["column"]),
    ("/api/search", {"q": "(disk"}, ["column"]),
    ("/api/search", {"q": "_bogus:1"}, ["_bogus"]),
    ("/api/search", {"q": "cluster:nosuch"}, ["unknown cluster", "nosuch"]),
    ("/api/search", {"q": "job:999999"}, ["999999"]),
    ("/api/search", {"limit": "many"}, ["limit"]),
    ("/api/search", {"limit": "100001"}, ["limit"]),
    ("/api/search", {"order": "up"}, ["order"]),
    ("/api/search", {"start": "yesterday"}, ["yesterday"]),
    ("/api/search", {"start": "1h"}, ["-1h"]),
    ("/api/search", {"after": "garbage"}, ["garbage"]),
    ("/api/hits", {"interval": "fortnight"}, ["fortnight"]),
    ("/api/hits", {"limit": "5"}, ["unknown parameter 'limit'"]),
    ("/api/facets", {"field": "host"}, ["unknown parameter 'field'"]),
    ("/api/group", {"q": "~\"(\""}, ["regular expression"]),
    ("/api/job/4711", {"clusters": "alex"}, ["unknown parameter 'clusters'"]),
])
def test_mistakes_are_400_naming_them(loaded, path: str, params: Dict[str, Any],
                                      words: list) -> None:
    server = loaded[0]
    answer = get(server, path, 400, **params)
    assert answer["status"] == "Bad Request"
    for w in words:
        assert w in answer["error"], answer
    if words == ["column"]:
        assert isinstance(answer["column"], int) and answer["column"] >= 1


def test_a_repeated_parameter_is_refused(loaded) -> None:
    r = loaded[0].call("GET", "/api/search?q=a&q=b")
    assert r.status == 400 and "'q' given 2 times" in r.json()["error"]


def test_go_query_refuses_unknown_keys_and_clusters(loaded) -> None:
    server = loaded[0]
    r = server.call("GET", "/api/query/", {"cluster": "alex", "hots": "a0001"})
    assert r.status == 400 and "'hots'" in r.json()["error"]
    r = server.call("GET", "/api/query/", {"cluster": "alex", "queries": [{"hots": "x"}]})
    assert r.status == 400 and "queries[0]" in r.json()["error"] and "'hots'" in r.json()["error"]
    r = server.call("GET", "/api/query/", {"cluster": "nosuch", "queries": [{}]})
    assert r.status == 400 and "unknown cluster 'nosuch'" in r.json()["error"]
    r = server.call("GET", "/api/query/", {"cluster": "alex", "kind": "log",
                                           "text": '"disk full'})
    assert r.status == 400, r
    r = server.call("GET", "/api/count/?cluster=alex&hots=a0001")
    assert r.status == 400 and "'hots'" in r.json()["error"]


def test_go_query_takes_the_one_time_syntax(loaded) -> None:
    server, records, _ = loaded
    want = sc.expected(records, "cluster:alex kind:event", "2026-12-01T10:00Z",
                       "2026-12-01T10:39:59Z")
    assert want
    for frm, to in ((1796119200, 1796121599), ("2026-12-01T10:00Z", "2026-12-01T10:39:59Z"),
                    ("1796119200000", 1796121599.5)):
        got = server.query({"cluster": "alex", "from": frm, "to": to, "queries": [{}],
                            "full": True})
        data = got["results"][0][0]["data"]
        assert sorted(d["time"] for d in data) == sorted(r["ts_ns"] for r in want), (frm, to)
    r = server.call("GET", "/api/query/", {"cluster": "alex", "from": "last tuesday"})
    assert r.status == 400 and r.json()["error"].startswith("from: ")


def test_count_interval_takes_seconds_and_durations(loaded) -> None:
    server = loaded[0]
    a = server.count("cluster=alex&interval=3600&from=2026-12-01")
    b = server.count("cluster=alex&interval=1h&from=1796119200")
    assert a["counts"] == b["counts"] and a["total"] > 0
    assert server.call("GET", "/api/count/?interval=1fortnight").status == 400


# ---------------------------------------------------------------------- hits, facets, group
HIT_CASES = [
    ("", "2026-12-01T10:00Z", "2026-12-01T12:00Z", "10m", "level"),
    ("kind:log", "2026-12-01T10:00Z", "2026-12-01T12:00Z", "15m", "host"),
    ("disk OR xid", "2026-12-01T09:00Z", "2026-12-01T13:00Z", "1h", "partition"),
    ("level:>=warn", "2026-12-01T10:00Z", "2026-12-01T12:00Z", "30m", ""),
]


@pytest.mark.parametrize("q, start, end, interval, by", HIT_CASES)
def test_hits_count_what_the_oracle_counts(loaded, q, start, end, interval, by) -> None:
    server, records, _ = loaded
    got = get(server, "/api/hits", q=q, start=start, end=end, interval=interval, by=by)
    sc.check_hits(got, sc.expected(records, q, start, end), by or None, start, end)


def test_hits_choose_an_interval_and_zero_fill(loaded) -> None:
    server, records, _ = loaded
    got = get(server, "/api/hits", q="kind:log", start="2026-12-01T10:00Z",
              end="2026-12-01T11:59:59Z", buckets=12)
    assert 8 <= len(got["buckets"]) <= 16
    sc.check_hits(got, sc.expected(records, "kind:log", "2026-12-01T10:00Z",
                                   "2026-12-01T11:59:59Z"), "level", "2026-12-01T10:00Z",
                  "2026-12-01T11:59:59Z")
    recent = get(server, "/api/hits", q="", start="-3h", interval="1h", by="")
    assert sum(b["counts"].get("*", 0) for b in recent["buckets"]) == len(
        sc.expected(records, "", "-3h"))


@pytest.mark.parametrize("q, fields, limit", [
    ("", None, 10),
    ("kind:log", "host,level,partition", 3),
    ("level:>=warn", "name,cluster,kind,type_id", 10),
    (f"job:{sc.FINISHED_JOB}", "host", 10),
])
def test_facets_count_every_matching_record(loaded, q, fields, limit) -> None:
    server, records, _ = loaded
    got = get(server, "/api/facets", q=q, fields=fields, limit=limit)["facets"]
    want = sc.expected(records, q)
    if fields is None:
        assert {"host", "level", "name", "type", "kind", "cluster"} <= set(got)
    else:
        assert list(got) == fields.split(",")
    for field, values in got.items():
        sc.check_facet([(v["value"], v["count"]) for v in values], want, field, limit)


@pytest.mark.parametrize("q, limit", [("", 100), ("kind:log level:>=warn", 5), ("xid", 100)])
def test_group_is_dshbak_of_the_oracle(loaded, q: str, limit: int) -> None:
    server, records, _ = loaded
    got = get(server, "/api/group", q=q, limit=limit)["groups"]
    sc.check_groups(got, sc.expected(records, q), limit)


def test_group_shows_one_line_for_many_hosts(loaded) -> None:
    got = get(loaded[0], "/api/group", q="recent")["groups"]
    assert [(g["count"], g["hosts"]) for g in got[:1]] == [(9, "f[0101-0102,0200]")]
    assert got[0]["template"] == "recent xid <num> on f<num>"


# ---------------------------------------------------------------------- job
def test_job_finished_and_running(loaded) -> None:
    server = loaded[0]
    j = get(server, f"/api/job/{sc.FINISHED_JOB}")
    assert (j["cluster"], j["hosts"], j["running"]) == ("alex", "a[0001-0002]", False)
    assert j["start"] == format_iso(1_796_119_800 * sc.S, digits=9)
    assert j["end_ns"] == (1_796_119_800 + 1801) * sc.S
    before = time.time_ns()
    r = get(server, f"/api/job/{sc.RUNNING_JOB}", cluster="fritz")
    assert r["running"] and r["hosts"] == "f[0101-0102]" and r["end_ns"] >= before
    missing = get(server, "/api/job/999999", 404)
    assert "999999" in missing["error"]
    get(server, f"/api/job/{sc.FINISHED_JOB}", 404, cluster="fritz")


def test_openapi_lists_every_endpoint_and_parameter(loaded) -> None:
    doc = get(loaded[0], "/api/openapi.json")
    for path, accepted in (("/search", api.SEARCH_PARAMS), ("/hits", api.HITS_PARAMS),
                           ("/facets", api.FACETS_PARAMS), ("/group", api.GROUP_PARAMS),
                           ("/job/{id}", ("id",) + api.JOB_PARAMS)):
        params = [p["name"] for p in doc["paths"][path]["get"]["parameters"]]
        assert sorted(params) == sorted(accepted), path
    assert {"/query/", "/count/", "/write/"} <= set(doc["paths"])
