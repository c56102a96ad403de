"""The data of the browser tests and of ``scripts/screenshots.py``: log lines on four
nodes over the last 40 minutes, lines around a unique one (context), one message on
every node (groups) and a running job."""
from __future__ import annotations

from typing import Any, Dict

S = 10**9
#: the job written: running on n001 and n002 since 30 minutes
JOB = "4242"


def line(name: str, host: str, level: str, message: str, t_ns: int, cluster: str = "alex",
         kind: str = "log") -> str:
    tag = f",loglevel={level}" if level else ""
    esc = message.replace("\\", "\\\\").replace('"', '\\"')
    return (f"{name},cluster={cluster},hostname={host},type=node,type-id=0{tag} "
            f'{kind}="{esc}" {t_ns}')


def dataset(now_ns: int) -> Dict[str, Any]:
    """What the server of the tests holds: lines on n001-n004 over the last 40 minutes, a
    running job on n001-n002 and the lines that tests look for."""
    lines = []
    levels = ["info", "warn", "error", "debug"]
    for i in range(400):
        host = f"n{(i % 4) + 1:03d}"
        t = now_ns - (2400 - i * 6) * S
        lines.append(line("ccb", host, levels[(i // 4) % 4], f"routine message {i} from {host}",
                          t))
    # context: three lines on n004 around a unique one, another host in between
    base = now_ns - 600 * S
    for k, msg in enumerate(["ctx before two", "ctx before one", "ctx needle line",
                             "ctx after one", "ctx after two"]):
        lines.append(line("ccb", "n004", "info", msg, base + k * S))
        lines.append(line("ccb", "n003", "info", f"ctx other host {k}", base + k * S + S // 2))
    # groups: one message on every host, numbers differing
    for i, host in enumerate(["n001", "n002", "n003", "n004"]):
        lines.append(line("lustre", host, "error",
                          f"LustreError: evicted by MDS 10.0.0.{i + 1}", base + 30 * S + i))
    job = ('{"jobId": %s, "cluster": "alex", "startTime": %d, '
           '"resources": [{"hostname": "n001"}, {"hostname": "n002"}]}'
           % (JOB, (now_ns - 1800 * S) // S))
    lines.append(line("job", "mngmt01", "", job, now_ns - 1800 * S, kind="event")
                 .replace(",type=node", ",function=start_job,type=node"))
    return {"lines": lines, "now_ns": now_ns}


def url(server: Any, query: str = "") -> str:
    """The page of ``server`` (a ``srvutil.ServerProcess``) with a query string."""
    return f"http://{server.host}:{server.port}/{query}"
