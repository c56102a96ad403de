"""ccstore.query.jobs: job:4711 from the job events, in both spellings."""
from __future__ import annotations

import json

import pytest

from ccstore.query import JobError, JobNotFound, find_job, match, parse, plan, resolve
from ccstore.query.fields import from_row
from ccstore.query.jobs import job_function, jobs_in
from ccstore.query.nodes import Job
from ccstore.timesyntax import NS_PER_S

S = NS_PER_S
START = 1_796_119_200  # 2026-12-01T10:00:00Z
NOW = (START + 7200) * S


def event(function, payload, *, spelling="function", ts=None, cluster="alex", host="mngmt02"):
    """A job event record as the store returns it, in one of the two spellings."""
    if spelling == "function":
        name, tags = "job", {"function": function}
    else:
        name, tags = function, {}
    body = payload if isinstance(payload, str) else json.dumps(payload)
    t = (START if ts is None else ts) * S
    row = (t, t // S, name, host, "node", "0", None, None,
           json.dumps(tags, sort_keys=True, separators=(",", ":")), body, tags.get("function"))
    return from_row(cluster, "event", row)


def job(job_id=4711, cluster="alex", start=START, hosts=("a0001", "a0002"), **more):
    return {"jobId": job_id, "cluster": cluster, "startTime": start, "user": "u1",
            "resources": [{"hostname": h, "hwthreads": [0, 1]} for h in hosts], **more}


@pytest.mark.parametrize("spelling", ["function", "measurement"])
def test_finished_job(spelling):
    events = [event("start_job", job(), spelling=spelling),
              event("stop_job", job(duration=600, jobState="completed"), spelling=spelling)]
    info = find_job(events, "4711", now_ns=NOW)
    assert (info.cluster, info.hosts, info.running) == ("alex", ("a0001", "a0002"), False)
    assert info.start_ns == START * S
    assert info.end_ns == (START + 601) * S  # the stopping second included whole
    assert info.hostlist == "a[0001-0002]"
    assert info.as_dict() == {
        "job_id": "4711", "cluster": "alex", "hosts": "a[0001-0002]", "host_count": 2,
        "start": "2026-12-01T10:00:00.000000000Z", "end": "2026-12-01T10:10:01.000000000Z",
        "start_ns": START * S, "end_ns": (START + 601) * S, "running": False}


@pytest.mark.parametrize("spelling", ["function", "measurement"])
def test_running_job_ends_now(spelling):
    info = find_job([event("start_job", job(), spelling=spelling)], "4711", now_ns=NOW)
    assert info.running and (info.start_ns, info.end_ns) == (START * S, NOW + 1)


def test_stop_without_duration_ends_at_the_stop_event():
    events = [event("start_job", job()),
              event("stop_job", {"jobId": 4711, "jobState": "completed"}, ts=START + 99)]
    info = find_job(events, "4711", now_ns=NOW)
    assert not info.running and info.end_ns == (START + 99) * S + 1


def test_stop_alone_gives_hosts_and_window():
    info = find_job([event("stop_job", job(duration=60), spelling="measurement")], "4711")
    assert info.hosts == ("a0001", "a0002") and info.end_ns == (START + 61) * S


def test_job_id_as_string_and_cluster_from_the_record():
    payload = job(job_id="4711")
    del payload["cluster"]
    info = find_job([event("start_job", payload, cluster="fritz")], "4711", now_ns=NOW)
    assert info.cluster == "fritz"


def test_reused_job_id_takes_the_latest_start():
    events = [event("start_job", job(start=START - 86400, hosts=("old1",))),
              event("stop_job", job(start=START - 86400, hosts=("old1",), duration=10)),
              event("start_job", job(hosts=("new1",)), ts=START)]
    info = find_job(events, "4711", now_ns=NOW)
    assert info.hosts == ("new1",) and info.running


def test_cluster_narrows_and_ambiguity_is_an_error():
    events = [event("start_job", job(cluster="alex", hosts=("a1",))),
              event("start_job", job(cluster="fritz", hosts=("f1",)), cluster="fritz")]
    assert find_job(events, "4711", "fritz", now_ns=NOW).hosts == ("f1",)
    with pytest.raises(JobError, match="ran on clusters alex, fritz: write job:alex/4711"):
        find_job(events, "4711", now_ns=NOW)


def test_unknown_job_is_a_clear_error():
    events = [event("start_job", job()), event("start_job", "not json"),
              event("start_job", [1, 2]), event("other", job(job_id=1))]
    with pytest.raises(JobNotFound, match="job 1: no start_job or stop_job event names it"):
        find_job(events, "1")
    with pytest.raises(JobNotFound, match="job fritz/4711"):
        find_job(events, "4711", "fritz")
    assert isinstance(JobNotFound("x"), ValueError)


def test_job_without_hosts_is_an_error():
    with pytest.raises(JobError, match="name no hosts"):
        find_job([event("start_job", job(hosts=()))], "4711", now_ns=NOW)


def test_only_job_events_count():
    assert job_function(event("start_job", {})) == "start_job"
    assert job_function(event("stop_job", {}, spelling="measurement")) == "stop_job"
    assert job_function({"name": "job", "tags": {"function": "other"}}) is None
    assert job_function({"name": "slurm", "tags": {"function": "start_job"}}) is None


def test_resolve_replaces_job_filters():
    events = [event("start_job", job()), event("stop_job", job(duration=600))]
    tree = parse("job:alex/4711 level:>=warn OR -job:4711 xid", now_ns=NOW)
    assert jobs_in(tree) == [Job("4711", "alex"), Job("4711")]
    resolved = resolve(tree, lambda j, c: find_job(events, j, c, now_ns=NOW))
    assert jobs_in(resolved) == []
    assert "host:a[0001-0002]" in str(resolved) and "cluster:alex" in str(resolved)

    def rec(host, t, level="warn", message="x"):
        return {"ts_ns": t * S, "cluster": "alex", "kind": "log", "host": host,
                "level": level, "message": message, "tags": {"loglevel": level}}

    assert match(resolved, rec("a0001", START + 10))
    assert not match(resolved, rec("a0003", START + 10))
    assert not match(resolved, rec("a0001", START + 601))
    assert match(resolved, rec("a0003", START + 10, message="xid"))
    p = plan(resolve(parse("job:4711", now_ns=NOW),
                     lambda j, c: find_job(events, j, c, now_ns=NOW)))
    assert p.residual is None
    assert p.pushdown.store_filters() == {"cluster": ["alex"], "hosts": ["a0001", "a0002"]}
    assert (p.pushdown.start_ns, p.pushdown.end_ns) == (START * S, (START + 601) * S)


def test_resolve_without_jobs_is_the_same_tree():
    tree = parse("disk")
    assert resolve(tree, lambda j, c: pytest.fail("no job to find")) is tree
