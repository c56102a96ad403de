"""The ``ccstore`` command line, run as a user runs it: ``python -m ccstore ...``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from logutil import append, line_numbers, numbered

import ccstore

LP = (
    b"ccb,cluster=alex,hostname=h1,type=node,type-id=0,loglevel=info "
    b'log="archiving finished java.lang.NullPointerException" 1740027951\n'
    b"job,cluster=alex,hostname=h2,type=node,type-id=0,function=start_job "
    b'event="{\\"jobId\\": 69}" 1740027952\n'
    b"ccms,cluster=alex,hostname=h1,type=node,type-id=0,loglevel=error "
    b'log="metric store down" 1740027953\n'
    b"flops_any,cluster=alex,hostname=h1,type=node,type-id=0 value=1.5 1740027954\n"
)


def run(tmp_path, *args, stdin=None, db="t.db"):
    """``python -m ccstore --db <tmp>/<db> args...`` -> CompletedProcess (text)."""
    env = dict(os.environ, TZ="UTC")
    env.pop("CCSTORE_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "ccstore", "--db", str(tmp_path / db), *map(str, args)],
        input=stdin, capture_output=True, cwd=tmp_path, env=env, timeout=120)


def text(proc) -> str:
    return proc.stdout.decode()


def test_ingest_line_protocol_and_query_it_back(tmp_path):
    (tmp_path / "e.lp").write_bytes(LP)
    p = run(tmp_path, "ingest", tmp_path / "e.lp")
    assert p.returncode == 0, p.stderr
    assert b"4 lines: 3 stored, 1 dropped (metric 1), 0 rejected" in p.stderr
    q = run(tmp_path, "query", "--format", "jsonl", "--order", "asc")
    assert q.returncode == 0
    rows = [json.loads(x) for x in text(q).splitlines()]
    assert [(r["name"], r["tags"]["loglevel"]) for r in rows] == [("ccb", "info"),
                                                                  ("ccms", "error")]
    ev = run(tmp_path, "query", "--kind", "event", "--format", "jsonl")
    assert json.loads(text(ev))["message"] == '{"jobId": 69}'


def test_query_output_as_line_protocol_round_trips(tmp_path):
    (tmp_path / "e.lp").write_bytes(LP)
    assert run(tmp_path, "ingest", tmp_path / "e.lp").returncode == 0
    out = run(tmp_path, "query", "--format", "lp", "--order", "asc")
    assert out.returncode == 0
    again = run(tmp_path, "ingest", "-", stdin=out.stdout, db="copy.db")
    assert again.returncode == 0, again.stderr
    with ccstore.open(str(tmp_path / "t.db")) as a, ccstore.open(str(tmp_path / "copy.db")) as b:
        def key(r):
            return (r.time, r.name, r.hostname, r.tags, r.value)
        assert [key(r) for r in a.query("alex", limit=None)] == [
            key(r) for r in b.query("alex", limit=None)]


def test_query_filters_and_table(tmp_path):
    (tmp_path / "e.lp").write_bytes(LP)
    run(tmp_path, "ingest", tmp_path / "e.lp")
    p = run(tmp_path, "query", "--level", "error")
    lines = text(p).splitlines()
    assert lines[0].split() == ["TIME", "HOST", "NAME", "LOGLEVEL", "MESSAGE"]
    assert len(lines) == 2 and "metric store down" in lines[1]
    p = run(tmp_path, "query", "--text", "java.lang.NullPointerException", "--format", "jsonl")
    assert [json.loads(x)["name"] for x in text(p).splitlines()] == ["ccb"]
    p = run(tmp_path, "query", "--not-tag", "loglevel=error", "--host", "h1",
            "--format", "jsonl")
    assert [json.loads(x)["name"] for x in text(p).splitlines()] == ["ccb"]
    p = run(tmp_path, "query", "--start", "1740027953", "--end", "2025-02-20T05:05:53Z",
            "--format", "jsonl")
    assert [json.loads(x)["name"] for x in text(p).splitlines()] == ["ccms"]


HOSTS_LP = (
    b'ccb,cluster=alex,hostname=h1,loglevel=info,partition=gpu log="one" 1740027951\n'
    b'ccb,cluster=alex,hostname=h2,loglevel=info,partition=main log="two" 1740027952\n'
    b'ccms,cluster=alex,hostname=h2,loglevel=warn log="three" 1740027953\n'
    b'job,cluster=alex,hostname=h1,function=start_job event="four" 1740027954\n'
)


def values(proc) -> list:
    assert proc.returncode == 0, proc.stderr
    return sorted(json.loads(x)["message"] for x in text(proc).splitlines())


def counted(proc) -> int:
    assert proc.returncode == 0, proc.stderr
    return sum(json.loads(x)["count"] for x in text(proc).splitlines())


def test_query_and_count_by_host_and_tag(tmp_path):
    (tmp_path / "h.lp").write_bytes(HOSTS_LP)
    assert run(tmp_path, "ingest", tmp_path / "h.lp").returncode == 0
    for cmd, result in (("query", values), ("count", counted)):
        def ask(*args):
            return result(run(tmp_path, cmd, "--format", "jsonl", *args))

        assert ask("--host", "h2") == (["three", "two"] if cmd == "query" else 2)
        assert ask("--host", "h1", "--host", "h2") == (["one", "three", "two"]
                                                       if cmd == "query" else 3)
        assert ask("--tag", "partition=gpu") == (["one"] if cmd == "query" else 1)
        assert ask("--tag", "partition=main", "--host", "h1") == ([] if cmd == "query" else 0)
        assert ask("--not-tag", "partition=gpu") == (["three", "two"] if cmd == "query" else 2)
        assert ask("--kind", "event", "--host", "h2") == ([] if cmd == "query" else 0)


def test_retention_of_logs_apart(tmp_path):
    (tmp_path / "h.lp").write_bytes(HOSTS_LP)
    assert run(tmp_path, "ingest", tmp_path / "h.lp").returncode == 0
    p = run(tmp_path, "retention", "--retention", "100000h")
    assert p.returncode == 0 and text(p).strip() == "removed 0 rows"  # logs are kept
    p = run(tmp_path, "retention", "--retention", "100000h", "--log-retention", "1h")
    assert p.returncode == 0 and text(p).strip() == "removed 3 rows"
    assert values(run(tmp_path, "query", "--format", "jsonl")) == []
    assert values(run(tmp_path, "query", "--kind", "event", "--format", "jsonl")) == ["four"]


def test_retention_per_log_level(tmp_path):
    (tmp_path / "h.lp").write_bytes(HOSTS_LP)
    assert run(tmp_path, "ingest", tmp_path / "h.lp").returncode == 0
    p = run(tmp_path, "retention", "--retention", "100000h", "--level-retention", "warn=1h")
    assert p.returncode == 0 and text(p).strip() == "removed 1 rows", p.stderr
    assert values(run(tmp_path, "query", "--format", "jsonl")) == ["one", "two"]
    # the other levels under --log-retention; LEVEL= keeps a level
    p = run(tmp_path, "retention", "--retention", "100000h", "--log-retention", "1h",
            "--level-retention", "info=")
    assert p.returncode == 0 and text(p).strip() == "removed 0 rows", p.stderr
    p = run(tmp_path, "retention", "--level-retention", "info")
    assert p.returncode != 0 and b"LEVEL=DURATION" in p.stderr


def test_query_pages_with_the_cursor(tmp_path):
    (tmp_path / "e.lp").write_bytes(LP)
    run(tmp_path, "ingest", tmp_path / "e.lp")
    first = run(tmp_path, "query", "--limit", "1", "--format", "jsonl")
    rec = json.loads(text(first))
    assert b"--after " + rec["cursor"].encode() in first.stderr
    second = run(tmp_path, "query", "--limit", "1", "--after", rec["cursor"], "--format",
                 "jsonl")
    assert json.loads(text(second))["name"] != rec["name"]


def test_rejected_lines_exit_1_and_name_the_line(tmp_path):
    (tmp_path / "bad.lp").write_bytes(LP + b"not line protocol at all\n")
    p = run(tmp_path, "ingest", "--format", "lp", tmp_path / "bad.lp")
    assert p.returncode == 1
    assert b"bad.lp:5:" in p.stderr
    assert b"3 stored" in p.stderr
    summary = run(tmp_path, "ingest", "--format", "lp", "--json", "-q", tmp_path / "bad.lp")
    assert summary.returncode == 1
    assert json.loads(text(summary))["rejected"] == 1


def test_ingest_log_files(tmp_path):
    log = tmp_path / "app.log"
    append(log, numbered(0, 5) + "Nov 22 08:40:01 a0002 sshd[1]: error: bad key\n")
    p = run(tmp_path, "ingest", "--cluster", "alex", "--timezone", "UTC", log)
    assert p.returncode == 0, p.stderr
    assert b"6 lines: 6 stored" in p.stderr
    c = run(tmp_path, "count", "--format", "jsonl")
    assert sorted(json.loads(x)["count"] for x in text(c).splitlines()) == [1, 5]


def test_ingest_log_from_stdin_in_a_given_format(tmp_path):
    data = b'{"msg": "one", "level": "warn", "time": 1732264801}\n' \
           b'{"msg": "two", "level": "error", "time": 1732264802}\n'
    p = run(tmp_path, "ingest", "--cluster", "alex", "--format", "json", "-", stdin=data)
    assert p.returncode == 0, p.stderr
    q = run(tmp_path, "query", "--format", "jsonl", "--order", "asc")
    assert [json.loads(x)["message"] for x in text(q).splitlines()] == ["one", "two"]


def test_binary_garbage_in_a_log_file_is_reported(tmp_path):
    log = tmp_path / "app.log"
    append(log, numbered(0, 2) + "\x00\x01\x02\x03\x04\x05\n")
    p = run(tmp_path, "ingest", "--cluster", "alex", log)
    assert p.returncode == 1
    assert b"binary garbage" in p.stderr and b"2 stored" in p.stderr


def test_large_input_is_streamed_in_chunks(tmp_path):
    # more than one 4 MiB chunk, lines cut at the chunk boundary
    line = (b"ccb,cluster=alex,hostname=h1,type=node,type-id=0,loglevel=info log=\""
            + b"x" * 150 + b"\" %d\n")
    n = 30_000
    with open(tmp_path / "big.lp", "wb") as fh:
        fh.write(b"".join(line % (1740000000 + i) for i in range(n)))
    assert os.path.getsize(tmp_path / "big.lp") > 4 << 20
    p = run(tmp_path, "ingest", tmp_path / "big.lp")
    assert p.returncode == 0, p.stderr
    assert f"{n:,} lines: {n:,} stored".encode() in p.stderr


def test_count_with_interval(tmp_path):
    (tmp_path / "e.lp").write_bytes(LP)
    run(tmp_path, "ingest", tmp_path / "e.lp")
    p = run(tmp_path, "count", "--interval", "1h", "--format", "jsonl")
    rows = [json.loads(x) for x in text(p).splitlines()]
    assert sorted((r["loglevel"], r["timestamp"], r["count"]) for r in rows) == [
        ("error", 1740027600, 1), ("info", 1740027600, 1)]
    table = run(tmp_path, "count", "--by", "hostname", "--kind", "event")
    assert text(table).split() == ["HOSTNAME", "COUNT", "h2", "1"]


def test_tail_once_follows_files_without_repeating(tmp_path):
    append(tmp_path / "a.log", numbered(0, 3))
    p = run(tmp_path, "tail", "--cluster", "alex", "--once", tmp_path / "*.log")
    assert p.returncode == 0, p.stderr
    append(tmp_path / "a.log", numbered(3, 2))
    p = run(tmp_path, "tail", "--cluster", "alex", "--once", tmp_path / "*.log")
    assert p.returncode == 0, p.stderr
    with ccstore.open(str(tmp_path / "t.db")) as s:
        assert line_numbers([r.value for r in s.query("alex", limit=None, order="asc")]) == [
            0, 1, 2, 3, 4]


def test_retention_removes_old_events(tmp_path):
    (tmp_path / "e.lp").write_bytes(LP)
    run(tmp_path, "ingest", tmp_path / "e.lp")
    p = run(tmp_path, "retention", "--retention", "1h")
    assert p.returncode == 0 and text(p).strip() == "removed 1 rows"
    assert text(run(tmp_path, "query", "--kind", "event", "--format", "jsonl")) == ""
    assert len(text(run(tmp_path, "query", "--format", "jsonl")).splitlines()) == 2


def test_stats_is_json(tmp_path):
    (tmp_path / "e.lp").write_bytes(LP)
    run(tmp_path, "ingest", tmp_path / "e.lp")
    p = run(tmp_path, "stats")
    assert p.returncode == 0
    assert json.loads(text(p))["clusters"] == ["alex"]


@pytest.mark.parametrize("args,message", [
    (["query"], b"no database at"),
    (["ingest", "missing.lp"], b"missing.lp: no such file"),
    (["ingest", "--format", "syslog", "x.log"], b"--cluster is required"),
    (["ingest", "x.log"], b"x.log: not line protocol; to read it as log lines, give a cluster"),
    (["query", "--start", "yesterday-ish"], b"invalid time"),
    (["frobnicate"], b"invalid choice"),
    (["query", "--limit", "many"], b"invalid int value"),
])
def test_usage_errors_exit_2(tmp_path, args, message):
    (tmp_path / "x.log").write_text("x\n")
    if args[0] == "query" and len(args) > 1:
        run(tmp_path, "ingest", "-", stdin=LP)
    p = run(tmp_path, *args)
    assert p.returncode == 2
    assert message in p.stderr


def test_start_after_end_is_a_usage_error(tmp_path):
    run(tmp_path, "ingest", "-", stdin=LP)
    p = run(tmp_path, "query", "--start", "10", "--end", "5")
    assert p.returncode == 2 and b"start is after end" in p.stderr


def test_relative_times(tmp_path):
    now = int(time.time())
    lines = b"".join(b"ccb,cluster=alex,hostname=h1,type=node,type-id=0,loglevel=info "
                     b'log="m%d" %d\n' % (i, now - i * 3600) for i in range(5))
    run(tmp_path, "ingest", "-", stdin=lines)
    p = run(tmp_path, "query", "--start=-2h30m", "--format", "jsonl")
    assert sorted(json.loads(x)["message"] for x in text(p).splitlines()) == ["m0", "m1", "m2"]
    p = run(tmp_path, "query", "--start", "-1d", "--format", "jsonl")
    assert len(text(p).splitlines()) == 5
    p = run(tmp_path, "query", "--start", "1d")  # a duration is not an instant
    assert p.returncode == 2 and b"for 1d ago write -1d" in p.stderr


def test_serve_delegates_to_the_server(tmp_path):
    p = subprocess.run([sys.executable, "-m", "ccstore", "serve", "--version"],
                       capture_output=True, timeout=60)
    assert p.returncode == 0
    assert p.stdout.decode().strip() == f"ccstore {ccstore.__version__}"


def test_serve_takes_no_db_option(tmp_path):
    p = run(tmp_path, "serve")
    assert p.returncode == 2 and b"serve takes the server's flags only" in p.stderr


def test_progress_is_shown_on_a_terminal_only(monkeypatch):
    import io

    from ccstore import cli

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream, shown in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        progress = cli._Progress(enabled=True)
        progress.update("big.lp", 50, 100, 1234)
        out = stream.getvalue()
        assert ("big.lp:  50.0%" in out and "1,234 lines" in out) == shown
        progress.done()
    quiet = Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    cli._Progress(enabled=False).update("x", 1, 2, 3)
    assert quiet.getvalue() == ""


def test_ingest_is_a_call_of_store_ingest(tmp_path, monkeypatch, capsys):
    """The command reads nothing itself: each input is one Store.ingest call, with the
    command's options; the summary is made of what the calls return."""
    from ccstore import cli
    from ccstore.store import Store

    calls = []
    real = Store.ingest

    def spy(self, source, **kw):
        calls.append((source, kw))
        return real(self, source, **kw)

    monkeypatch.setattr(Store, "ingest", spy)
    (tmp_path / "e.lp").write_bytes(LP)
    log = tmp_path / "app.log"
    append(log, numbered(0, 5))
    code = cli.main(["ingest", "--db", str(tmp_path / "t.db"), "--cluster", "alex",
                     "--hostname", "me", "--timezone", "UTC", "--json", "-q",
                     str(tmp_path / "e.lp"), str(log)])
    assert code == 0
    assert [(src, kw["format"], kw["cluster"], kw["hostname"], kw["timezone"])
            for src, kw in calls] == [(str(tmp_path / "e.lp"), "auto", "alex", "me", "UTC"),
                                      (str(log), "auto", "alex", "me", "UTC")]
    assert json.loads(capsys.readouterr().out) == {
        "lines": 9, "stored": 8, "dropped": {"metric": 1}, "rejected": 0, "errors": [],
        "formats": {str(log): "auto"}, "unparsed": 0, "no_host": 0}
    calls.clear()
    assert cli.main(["ingest", "--db", str(tmp_path / "t.db"), "--format", "auto",
                     "--cluster", "alex", "-q", str(log)]) == 0
    assert calls[0][1]["format"] == "log"  # the command's "auto" log format


def test_ingest_pattern_and_the_summary_of_log_files(tmp_path, capsys):
    """--pattern reads a format of the user's; the summary says the format read, how many
    entries fit no format and how many named no host of their own."""
    from ccstore import cli

    log = tmp_path / "site.log"
    log.write_text("E|1131566461|dn1|cannot mount\nnot in the pattern\n")
    code = cli.main(["ingest", "--db", str(tmp_path / "t.db"), "--cluster", "alex",
                     "--hostname", "me", "--pattern", "<level>|<time:epoch>|<host>|<msg>",
                     str(log)])
    assert code == 0
    err = capsys.readouterr().err
    assert "log format: pattern; 1 entries fit no format" in err
    assert "1 named no host of their own (stored as host me)" in err
    code = cli.main(["ingest", "--db", str(tmp_path / "t.db"), "--cluster", "alex", "--json",
                     "--regex", r"(?P<level>\w)\|(?P<msg>.*)", "--level-map", "E=warn",
                     str(log)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["formats"], out["unparsed"], out["no_host"]) == ({str(log): "pattern"}, 1, 2)


@pytest.mark.parametrize("args,words", [
    (["--pattern", "<host><msg>"], "--pattern: column 7: expected literal text"),
    (["--regex", "(?P<msg>.*"], "--regex: "),
    (["--pattern", "<msg>", "--format", "syslog"], "give one of them"),
    (["--level-map", "E=error"], "belong to --pattern"),
])
def test_ingest_pattern_errors_are_usage_errors(tmp_path, capsys, args, words):
    from ccstore import cli

    log = tmp_path / "site.log"
    log.write_text("x\n")
    code = cli.main(["ingest", "--db", str(tmp_path / "t.db"), "--cluster", "alex", *args,
                     str(log)])
    assert code == 2
    assert words in capsys.readouterr().err


def test_tail_once_with_a_pattern(tmp_path):
    (tmp_path / "site.log").write_text("W|1131566461|dn1|slow disk\n")
    p = run(tmp_path, "tail", "--cluster", "alex", "--once", "--pattern",
            "<level>|<time:epoch>|<host>|<msg>", tmp_path / "*.log")
    assert p.returncode == 0, p.stderr
    with ccstore.open(str(tmp_path / "t.db")) as s:
        (rec,) = [r.as_dict() for r in s.query("alex", limit=None)]
    assert (rec["host"], rec["level"], rec["ts_ns"], rec["message"]) == (
        "dn1", "warn", 1131566461_000_000_000, "slow disk")
    p = run(tmp_path, "tail", "--cluster", "alex", "--once", "--pattern", "<host><msg>",
            tmp_path / "*.log")
    assert p.returncode == 2 and b"--pattern: column" in p.stderr
