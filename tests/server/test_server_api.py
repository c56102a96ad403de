"""The REST API against a real server process: writes, queries, counts, stats, docs."""
from __future__ import annotations

import gzip
import http.client
import json
import socket
from urllib.parse import quote

import pytest

from srvutil import ServerProcess, sqlite_storage, write_config
from twins import PYTHON_ONLY

LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("api")
    config = write_config(d, storage=sqlite_storage(d / "api.db"),
                          api={"address": "127.0.0.1", "port": "0", "enable_swagger_ui": True,
                               "max_body_size": LIMIT})
    s = ServerProcess(d, ["-config", str(config)]).start()
    yield s
    s.kill()


def ev(cluster: str, host: str, t: int, payload: str, *, name: str = "job", type_id: str = "0",
       extra: str = "", stype: str = "") -> str:
    tags = f"{name},cluster={cluster},hostname={host},type=node,type-id={type_id}{stype}{extra}"
    return f'{tags} event="{payload}" {t}'


def log(cluster: str, host: str, t: int, msg: str, level: str = "info", name: str = "ccb") -> str:
    return (f'{name},cluster={cluster},hostname={host},type=node,type-id=0,loglevel={level} '
            f'log="{msg}" {t}')


def all_events(server: ServerProcess, cluster: str, kind: str = "event") -> list:
    r = server.query({"cluster": cluster, "kind": kind, "queries": [{}]})
    return [d["Event"] for d in r["results"][0][0]["data"]]


# ---------------------------------------------------------------------------- writes


def test_partial_write_names_bad_lines_and_stores_the_good(server: ServerProcess) -> None:
    body = "\n".join([
        ev("pw", "h1", 1700000000, "good1"),
        "this is not line protocol",
        ev("pw", "h1", 1700000001, "good2"),
        'cpu,cluster=pw,hostname=h1 value=1.5 1700000002',  # a metric: dropped, not an error
        'job,hostname=h1 event="x" 1700000003',  # no cluster tag and no ?cluster=
        'job,cluster=pw,hostname=h1 event=3i 1700000004',  # event payload not a string
    ])
    r = server.write(body)
    assert r.status == 400, r
    j = r.json()
    assert j["status"] == "Bad Request" and "3 lines rejected" in j["error"]
    assert j["written"] == 2 and j["rejected"] == 3 and j["dropped"] == {"metric": 1}
    assert [e["line"] for e in j["errors"]] == [2, 5, 6]
    assert all(set(e) == {"line", "column", "message"} for e in j["errors"])
    assert j["errors"][0]["column"] >= 1 and "=" in j["errors"][0]["message"]
    assert "cluster" in j["errors"][1]["message"]
    assert sorted(all_events(server, "pw")) == ["good1", "good2"]


def test_all_good_is_204_and_cluster_parameter_applies(server: ServerProcess) -> None:
    body = 'job,hostname=h1,type=node,type-id=0 event="from param" 1700000000\n' \
           'job,cluster=other1,hostname=h1 event="own tag wins" 1700000000\n'
    r = server.call("POST", "/api/write?cluster=param1", body)  # without the trailing slash
    assert r.status == 204 and r.body == b""
    assert all_events(server, "param1") == ["from param"]
    assert all_events(server, "other1") == ["own tag wins"]


@pytest.mark.parametrize("precision, stamp", [("s", "1740027951"), ("ms", "1740027951000"),
                                              ("us", "1740027951000000"),
                                              ("ns", "1740027951000000000"),
                                              ("auto", "1740027951"),
                                              ("auto", "1740027951000000000")])
def test_precision(server: ServerProcess, precision: str, stamp: str) -> None:
    cluster = f"prec{precision}{len(stamp)}"
    r = server.write(f'job,hostname=h event="p" {stamp}',
                     f"cluster={cluster}&precision={precision}")
    assert r.status == 204, r
    res = server.query({"cluster": cluster, "queries": [{}]})
    assert res["results"][0][0]["data"] == [{"Event": "p", "timestamp": 1740027951}]


def test_unknown_precision_is_400(server: ServerProcess) -> None:
    r = server.write('job,cluster=x,hostname=h event="p" 1', "precision=fortnights")
    assert r.status == 400 and "precision" in r.json()["error"]


def test_gzip_body(server: ServerProcess) -> None:
    lines = "\n".join(ev("gz", f"h{i % 7}", 1700000000 + i, f"g{i}") for i in range(2000))
    r = server.write(gzip.compress(lines.encode()), headers={"Content-Encoding": "gzip"})
    assert r.status == 204, r
    assert server.count("cluster=gz&kind=event&by=cluster")["total"] == 2000
    r = server.write(b"\x1f\x8b not really gzip", headers={"Content-Encoding": "gzip"})
    assert r.status == 400 and "gzip" in r.json()["error"]
    r = server.write(lines, headers={"Content-Encoding": "br"})
    assert r.status == 415


def test_body_over_the_limit_is_413_and_stores_nothing(server: ServerProcess) -> None:
    line = ev("big", "h", 1700000000, "x" * 100) + "\n"
    body = line * (LIMIT // len(line) + 10)
    r = server.write(body)
    assert r.status == 413, r
    assert r.json()["status"] == "Request Entity Too Large"
    # a small gzip body that inflates beyond the limit
    r = server.write(gzip.compress(body.encode()), headers={"Content-Encoding": "gzip"})
    assert r.status == 413
    r = server.call("GET", "/api/count/?cluster=big&kind=event&by=cluster")
    assert r.status == 400 and "unknown cluster 'big'" in r.json()["error"]  # nothing stored
    assert server.stats()["receivers"]["api"]["errors"]["too_large"] >= 2


def test_chunked_upload(server: ServerProcess) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    lines = [ev("chunk", "h", 1700000000 + i, f"c{i}").encode() + b"\n" for i in range(300)]
    conn.request("POST", "/api/write/", body=iter(lines), encode_chunked=True,
                 headers={"Transfer-Encoding": "chunked"})
    r = conn.getresponse()
    r.read()
    conn.close()
    assert r.status == 204
    assert server.count("cluster=chunk&kind=event&by=cluster")["total"] == 300


# ---------------------------------------------------------------------------- Go query shape


@pytest.fixture(scope="module")
def go_data(server: ServerProcess) -> None:
    lines = [
        ev("alex", "mngmt02", 1740027951, '{\\"jobId\\": 69, \\"jobState\\": \\"completed\\"}',
           extra=",function=stop_job"),
        ev("alex", "mngmt02", 1740027950, "start 69", extra=",function=start_job"),
        ev("alex", "mngmt02", 1740027952, "socket 1", type_id="1"),
        ev("alex", "mngmt02", 1740027953, "fs homes", stype=",stype=filesystem,stype-id=/homes"),
        ev("alex", "mngmt02", 1740027954, "fs work", stype=",stype=filesystem,stype-id=/work"),
        ev("alex", "node7", 1740027955, "other host"),
        ev("alex", "mngmt02", 1630000000, "too old"),
        ev("alex", "mngmt02", 1740027956, "slurm thing", name="slurm"),
    ]
    assert server.write("\n".join(lines)).status == 204


def test_go_request_and_response_shape(server: ServerProcess, go_data: None) -> None:
    req = {"cluster": "alex", "from": 1740000000, "to": 1740099999,
           "queries": [{"event": "job", "host": "mngmt02", "type": "node", "type-ids": ["0"],
                        "subtype": "", "subtype-ids": []}],
           "for-all-nodes": []}
    r = server.call("GET", "/api/query/", req)
    assert r.status == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json() == {"results": [[{
        "data": [{"Event": "start 69", "timestamp": 1740027950},
                 {"Event": '{"jobId": 69, "jobState": "completed"}', "timestamp": 1740027951},
                 {"Event": "fs homes", "timestamp": 1740027953},
                 {"Event": "fs work", "timestamp": 1740027954}],
        "from": 1740000000, "to": 1740099999}]]}


def test_one_entry_per_type_id_and_subtype_id(server: ServerProcess, go_data: None) -> None:
    base = {"cluster": "alex", "from": 1740000000, "to": 1740099999}
    res = server.query({**base, "queries": [
        {"event": "job", "host": "mngmt02", "type": "node", "type-ids": ["0", "1", "9"]},
        {"event": "job", "host": "mngmt02", "type": "node", "type-ids": ["0"],
         "subtype": "filesystem", "subtype-ids": ["/homes", "/work"]},
        {"event": "job", "host": "mngmt02"},  # no type-ids: one entry, any type-id
    ]})["results"]
    assert len(res) == 3
    assert [[d["Event"] for d in e["data"]] for e in res[0]] == [
        ["start 69", '{"jobId": 69, "jobState": "completed"}', "fs homes", "fs work"],
        ["socket 1"], []]
    assert [[d["Event"] for d in e["data"]] for e in res[1]] == [["fs homes"], ["fs work"]]
    assert len(res[2]) == 1 and len(res[2][0]["data"]) == 5
    assert all(set(e) == {"data", "from", "to"} for q in res for e in q)


def test_time_range_is_inclusive_and_open_ended(server: ServerProcess, go_data: None) -> None:
    q = {"event": "job", "host": "mngmt02", "type-ids": ["0"]}
    res = server.query({"cluster": "alex", "from": 1740027951, "to": 1740027953,
                        "queries": [q]})["results"]
    assert [d["timestamp"] for d in res[0][0]["data"]] == [1740027951, 1740027953]
    res = server.query({"cluster": "alex", "queries": [q]})["results"]  # no from/to
    assert res[0][0]["data"][0]["Event"] == "too old"


def test_for_all_nodes(server: ServerProcess, go_data: None) -> None:
    j = server.query({"cluster": "alex", "from": 1740000000, "to": 1740099999,
                      "queries": [{"event": "slurm", "host": "mngmt02"}],
                      "for-all-nodes": ["job"]})
    assert j["queries"] == [{"event": "slurm", "host": "mngmt02"},
                            {"event": "job", "host": "mngmt02"},
                            {"event": "job", "host": "node7"}]
    assert len(j["results"]) == 3
    assert [d["Event"] for d in j["results"][0][0]["data"]] == ["slurm thing"]
    assert len(j["results"][1][0]["data"]) == 5  # "too old" is out of range
    assert [d["Event"] for d in j["results"][2][0]["data"]] == ["other host"]


def test_bad_query_requests_are_400_json(server: ServerProcess) -> None:
    for body in (b"{not json", b"[]", json.dumps({"queries": "all"}).encode(),
                 json.dumps({"from": "yesterday", "queries": []}).encode(),
                 json.dumps({"from": 10, "to": 5, "queries": []}).encode(),
                 json.dumps({"queries": [{"conditions": ["loglevel ~ x"]}]}).encode(),
                 b""):
        r = server.call("GET", "/api/query/", body)
        assert r.status == 400, (body, r)
        assert r.json()["status"] == "Bad Request" and r.json()["error"]


BIG = 99999999999999999999999


@pytest.mark.parametrize("method, path, body, named", [
    ("GET", f"/api/count/?from={BIG}", None, "from: "),
    ("GET", f"/api/count/?to=-{BIG}", None, "to: "),
    ("GET", "/api/query/", {"from": BIG, "queries": [{}]}, "from: "),
    ("GET", "/api/query/", {"to": 1e308, "queries": [{}]}, "to: "),
    ("POST", "/api/count/", {"to": 1e308}, "to: "),
    ("GET", "/api/query/", "[" * 1000 + "]" * 1000, "nested"),
    ("GET", "/api/query/", '{"q":' * 100 + "1" + "}" * 100, "nested"),
    ("GET", "/api/query/", '{"to": NaN}', "NaN"),
    ("GET", "/api/query/", '{"to": -Infinity}', "Infinity"),
    ("GET", "/api/query/", '{"cluster": "\\ud800", "queries": [{}]}', "surrogate"),
    ("GET", "/api/query/", {"conditions": ["a\u0000b==1"]}, "NUL"),
    ("GET", "/api/query/", {"queries": [{"host": "h\u0000"}]}, "NUL"),
    ("GET", "/api/count/?by=a%00b", None, "NUL"),
    ("GET", "/api/count/?condition=loglevel==%00", None, "NUL"),
    ("GET", "/api/count/?cluster=%ED%A0%80", None, "UTF-8"),
    ("GET", "/api/count/?cluster=%FF", None, "UTF-8"),
    ("POST", "/api/write/?cluster=%FF", "x v=1", "UTF-8"),
    ("GET", "/api/count/?interval=99999999999999999999h", None, "interval"),
    ("GET", "/api/count/?interval=1e400", None, "interval"),
    ("GET", "/api/count/?interval=0.5", None, "interval"),
    ("POST", "/api/count/", {"interval": -3}, "interval"),
])
def test_bad_input_is_400_naming_what_is_wrong(server: ServerProcess, method: str, path: str,
                                               body: object, named: str) -> None:
    r = server.call(method, path, body)
    assert r.status == 400, r
    assert r.json()["status"] == "Bad Request" and named in r.json()["error"], r


def test_quotes_in_tag_keys_are_plain_keys(server: ServerProcess) -> None:
    line = 'ccb,cluster=qk,hostname=h,type=node,type-id=0,a"b=x log="quoted key" 1740000000'
    assert server.write(line).status == 204
    # SQLite cannot group by such a key: a 400 that names it
    r = server.call("GET", "/api/count/?cluster=qk&by=a%22b")
    assert r.status == 400 and 'a"b' in r.json()["error"], r
    j = server.count('cluster=qk&condition=a%22b==x')
    assert j["total"] == 1
    r = server.query({"cluster": "qk", "kind": "log", "conditions": ['a"b==x']})
    assert [d["Event"] for d in r["results"][0][0]["data"]] == ["quoted key"]


def test_query_strings_are_utf8(server: ServerProcess) -> None:
    body = 'job,hostname=hé,type=node,type-id=0 event="ü" 1700000000'
    assert server.write(body, "cluster=cl%C3%BCster").status == 204
    # raw bytes in the request line, as some clients send them
    with socket.create_connection((server.host, server.port), timeout=60) as raw:
        data = body.encode()
        raw.sendall(b"POST /api/write/?cluster=cl\xc3\xbcster2 HTTP/1.1\r\nHost: x\r\n"
                    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
        assert raw.makefile("rb").readline().startswith(b"HTTP/1.1 204 ")
    for cluster in ("clüster", "clüster2"):
        assert all_events(server, cluster) == ["ü"]
        j = server.count(f"cluster={quote(cluster)}&kind=event&by=hostname&host=h%C3%A9")
        assert j["counts"] == [{"hostname": "hé", "count": 1}]


def test_answers_keep_to_their_schema(server: ServerProcess, go_data: None) -> None:
    # from and to are echoed as whole seconds, 0 when absent or null
    for req, echo in (({"to": None}, (0, 0)), ({"from": "1740000000"}, (1740000000, 0)),
                      ({"from": 1740000000.7, "to": 1740099999}, (1740000000, 1740099999))):
        entry = server.query({"cluster": "alex", "queries": [{}], **req})["results"][0][0]
        assert (entry["from"], entry["to"]) == echo
    # the histogram interval is given back in seconds
    assert server.count("cluster=alex&kind=event&interval=1h")["interval"] == 3600
    assert server.count("cluster=alex&kind=event&interval=90")["interval"] == 90
    assert server.count("cluster=alex&kind=event")["interval"] is None


# ---------------------------------------------------------------------------- extensions


@pytest.fixture(scope="module")
def logs(server: ServerProcess) -> None:
    lines = []
    for i in range(40):
        level = ["debug", "info", "warn", "error"][i % 4]
        msg = "java.lang.NullPointerException at Foo" if i % 10 == 3 else f"message {i}"
        lines.append(log("logs", f"n{i % 3}", 1740000000 + i, msg, level,
                         name="ccms" if i % 2 else "ccb"))
    assert server.write("\n".join(lines)).status == 204


def texts(res: dict, q: int = 0) -> list:
    return [d["Event"] for d in res["results"][q][0]["data"]]


def test_logs_host_lists_and_conditions(server: ServerProcess, logs: None) -> None:
    base = {"cluster": "logs", "kind": "log"}
    q = lambda **kw: server.query({**base, "queries": [kw]})  # noqa: E731
    assert len(texts(q())) == 40
    assert len(texts(q(host=["n0", "n1"]))) == 27
    assert len(texts(q(conditions=["loglevel==error"]))) == 10
    assert len(texts(q(conditions=["loglevel!=debug"]))) == 30
    assert len(texts(q(conditions=["loglevel in (error, warn)"]))) == 20
    assert len(texts(q(conditions=[["loglevel", "not in", ["debug", "info", "warn"]]]))) == 10
    assert len(texts(q(conditions=[{"tag": "loglevel", "op": "==", "value": "warn"},
                                   "hostname==n2"]))) == 4  # i = 2 mod 12
    assert texts(q(conditions=["loglevel==error", "loglevel!=error"])) == []
    # values are bound, never SQL text
    assert texts(q(conditions=["loglevel==x' OR '1'='1"])) == []
    assert texts(q(event="ccb' OR 1=1 --")) == []


def test_text_limit_order_cursor(server: ServerProcess, logs: None) -> None:
    base = {"cluster": "logs", "kind": "log"}
    hits = server.query({**base, "queries": [{"text": "NullPointerException", "full": True}]})
    data = hits["results"][0][0]["data"]
    assert [d["timestamp"] for d in data] == [1740000003, 1740000013, 1740000023, 1740000033]
    assert data[0]["tags"] == {"loglevel": "error"} and data[0]["hostname"] == "n0"
    assert data[0]["name"] == "ccms" and data[0]["time"] == 1740000003 * 10**9

    desc = server.query({**base, "order": "desc", "limit": 5, "queries": [{}]})
    entry = desc["results"][0][0]
    assert [d["timestamp"] for d in entry["data"]] == list(range(1740000039, 1740000034, -1))
    seen = [d["timestamp"] for d in entry["data"]]
    while "cursor" in entry:
        page = server.query({**base, "order": "desc", "limit": 15,
                             "queries": [{"cursor": entry["cursor"]}]})
        entry = page["results"][0][0]
        seen += [d["timestamp"] for d in entry["data"]]
    assert seen == list(range(1740000039, 1739999999, -1))


def test_request_without_queries_is_one_query(server: ServerProcess, logs: None) -> None:
    j = server.query({"cluster": "logs", "kind": "log", "text": "NullPointerException",
                      "host": "n0"})
    assert [d["timestamp"] for d in j["results"][0][0]["data"]] == [1740000003, 1740000033]
    assert server.query({"cluster": "logs", "kind": "log", "queries": []}) == {"results": []}


def test_post_query_equals_get_query(server: ServerProcess, logs: None) -> None:
    req = {"cluster": "logs", "kind": "log", "queries": [{"host": "n1"}]}
    get = server.call("GET", "/api/query/", req)
    post = server.call("POST", "/api/query", req)
    assert get.status == post.status == 200 and get.json() == post.json()


def test_counts(server: ServerProcess, logs: None) -> None:
    j = server.count("cluster=logs")
    assert j["by"] == ["loglevel"] and j["total"] == 40
    assert {c["loglevel"]: c["count"] for c in j["counts"]} == {"debug": 10, "info": 10,
                                                                "warn": 10, "error": 10}
    j = server.count("cluster=logs&by=hostname&condition=loglevel!=debug&host=n0&host=n1")
    assert {c["hostname"]: c["count"] for c in j["counts"]} == {"n0": 10, "n1": 10}
    j = server.count("cluster=logs&by=loglevel&interval=10s&from=1740000000&to=1740000019")
    per = {(c["loglevel"], c["timestamp"]): c["count"] for c in j["counts"]}
    # seconds 0..9 hold levels debug,info,warn,error,debug,... -> 3,3,2,2 per bucket
    assert per == {("debug", 1740000000): 3, ("info", 1740000000): 3,
                   ("warn", 1740000000): 2, ("error", 1740000000): 2,
                   ("debug", 1740000010): 2, ("info", 1740000010): 2,
                   ("warn", 1740000010): 3, ("error", 1740000010): 3}
    buckets = {}
    for c in j["counts"]:
        buckets[c["timestamp"]] = buckets.get(c["timestamp"], 0) + c["count"]
    assert buckets == {1740000000: 10, 1740000010: 10}
    r = server.call("POST", "/api/count/", {"cluster": "logs", "by": ["hostname"],
                                            "conditions": ["loglevel==error"]})
    assert r.status == 200 and r.json()["total"] == 10
    r = server.call("GET", "/api/count/?cluster=logs&interval=soon")
    assert r.status == 400 and r.json()["error"]


def test_stats_health_openapi_swagger(server: ServerProcess) -> None:
    # its own writes: a stored line, a rejected one and a metric (dropped)
    r = server.write("\n".join([ev("st", "h1", 1700000000, "kept"), "not line protocol",
                                 "cpu,cluster=st,hostname=h1 value=1 1700000001"]))
    assert r.status == 400 and r.json()["written"] == 1, r
    stats = server.stats()
    assert {"manager", "backend", "receivers", "retention", "uptime"} <= set(stats)
    # the retention of each class: events, logs, and logs of a level of their own
    classes = stats["retention"]["classes"]
    assert classes == stats["backend"]["status"]["retention_classes"]
    assert set(classes) == {"event", "log", "log_levels"}
    api = stats["receivers"]["api"]
    assert api["written"] > 0 and api["errors"]["syntax"] >= 1
    assert api["dropped"]["metric"] >= 1
    assert stats["manager"]["status"]["transactions"] >= 1
    assert set(stats["manager"]) == {"status", "errors"}
    # the server process decodes with the compiled decoder (unless a pure-Python build
    # is what is tested)
    assert stats["backend"]["status"]["decoder"] == ("python" if PYTHON_ONLY else "cython")
    health = server.call("GET", "/api/health")
    assert health.status == 200 and health.json()["status"] == "ok"
    assert health.headers.get("connection", "").lower() != "close"  # keep-alive by default
    doc = server.call("GET", "/api/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "/query/" in doc["paths"]
    ui = server.call("GET", "/swagger/")
    assert ui.status == 200 and b"swagger-ui-bundle.js" in ui.body
    js = server.call("GET", "/swagger/swagger-ui-bundle.js")
    assert js.status == 200 and len(js.body) > 100_000
    init = server.call("GET", "/swagger/swagger-initializer.js")
    assert b"../api/openapi.json" in init.body
    missing = server.call("GET", "/api/nothing")
    assert missing.status == 404 and missing.json()["status"] == "Not Found"
    wrong = server.call("DELETE", "/api/write/")
    assert wrong.status == 405 and wrong.json()["error"]
