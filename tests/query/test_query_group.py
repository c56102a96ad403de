"""ccstore.query.group: masking and grouping identical messages across hosts."""
from __future__ import annotations

import pytest

from ccstore.query import Group, group, mask


@pytest.mark.parametrize("message, template", [
    ("NVRM: Xid 79 (pid 4711)", "NVRM: Xid <num> (pid <num>)"),
    ("node042: link down on eth0", "node<num>: link down on eth<num>"),
    ("job 550e8400-e29b-41d4-a716-446655440000 done", "job <uuid> done"),
    ("from 10.0.0.12:22 mac 00:1a:2b:3c:4d:5e", "from <ip> mac <mac>"),
    ("addr fe80::1 and 2001:db8::ff00:42:8329", "addr <ip> and <ip>"),
    ("full 2001:0db8:0000:0000:0000:ff00:0042:8329", "full <ip>"),
    ("/proc/1234/status at 0xDEADbeef", "/proc/<num>/status at <hex>"),
    ("commit a3f9c2d1e0 and word deadbeef", "commit <hex> and word deadbeef"),
    ("took 3.5s, version 1.2.3", "took <num>s, version <num>.<num>"),
    ("12:30:45 up", "<num>:<num>:<num> up"),
    ("/dev/nvme0n1p2 full", "/dev/nvme<num>n<num>p<num> full"),
    ("std::vector grew", "std::vector grew"),
    ("", ""),
])
def test_mask(message, template):
    assert mask(message) == template


def test_mask_of_none_is_empty():
    assert mask(None) == ""


def rec(host, t, message):
    return {"host": host, "ts_ns": t, "message": message}


def test_group():
    records = [rec(f"node{i:03d}", 100 + i, f"Xid 79 on node{i:03d} pid {1000 + i}")
               for i in range(1, 65)]
    records += [rec("node001", 50, "link down"), rec("node002", 300, "link down"),
                rec(None, 7, "link down"), rec("m1", 5, "ok")]
    groups = group(records)
    assert groups == [
        Group("Xid <num> on node<num> pid <num>", 64, 101, 164, "node[001-064]",
              "Xid 79 on node001 pid 1001"),
        Group("link down", 3, 7, 300, "node[001-002]", "link down"),
        Group("ok", 1, 5, 5, "m1", "ok"),
    ]
    assert groups[1].as_dict() == {
        "template": "link down", "count": 3, "first": "1970-01-01T00:00:00.000000007Z",
        "last": "1970-01-01T00:00:00.000000300Z", "first_ns": 7, "last_ns": 300,
        "hosts": "node[001-002]", "sample": "link down"}


def test_group_lists_hosts_a_hostlist_cannot_hold():
    assert group([rec("a,b", 1, "x"), rec("c", 2, "x")])[0].hosts == "a,b,c"
    assert group([rec(None, 1, "x")])[0].hosts == ""
    assert group([]) == []
