"""The OpenAPI document against the server it describes: schemathesis generates requests
from ``/api/openapi.json`` (valid and invalid ones, a fixed seed, a bounded number per
operation) and checks every answer: no server error, a documented status and content
type, a body that keeps to its schema.  Once with authentication off, once on."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
from srvutil import Keys, ServerProcess, sqlite_storage, write_config

pytest.importorskip("schemathesis")

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")
EXAMPLES = 10
#: one worker: with two, schemathesis itself now and then fails on CPython 3.11
#: ("AST constructor recursion depth mismatch" while it builds its generators)
WORKERS = 1
SEED = 20240521


def run_schemathesis(server: ServerProcess, workdir: Path, headers: List[str]) -> None:
    args = [sys.executable, "-m", "schemathesis.cli", "run",
            f"http://{server.host}:{server.port}/api/openapi.json",
            "--checks", CHECKS, "--max-examples", str(EXAMPLES), "--seed", str(SEED),
            "--phases", "examples,coverage,fuzzing", "--workers", str(WORKERS), "--no-shrink",
            "--request-timeout", "30", "--suppress-health-check", "all",
            "--output-truncate", "true",
            # an endless event stream: tests/server/test_server_tail.py checks it
            "--exclude-path", "/tail"]
    for h in headers:
        args += ["--header", h]
    env = dict(os.environ, NO_COLOR="1", SCHEMATHESIS_HOOKS="")
    r = subprocess.run(args, cwd=workdir, capture_output=True, text=True, timeout=300,
                       env=env)
    tail = "\n".join((r.stdout + r.stderr).splitlines()[-150:])
    assert r.returncode == 0, f"schemathesis found problems:\n{tail}\n--- server log:\n" \
                              f"{server.log[-5000:]}"
    assert " passed" in r.stdout and "generated" in r.stdout, tail


@pytest.mark.parametrize("auth", [False, True], ids=["auth-off", "auth-on"])
def test_answers_agree_with_the_openapi_document(tmp_path: Path, keys: Keys,
                                                  auth: bool) -> None:
    api = {"address": "127.0.0.1", "port": "0", "max_body_size": "1MiB"}
    if auth:
        api["jwt_public_key"] = keys.public_b64
    config = write_config(tmp_path, storage=sqlite_storage(tmp_path / "st.db"), api=api)
    token = keys.token() if auth else None
    server = ServerProcess(tmp_path, ["-config", str(config)], token).start()
    try:
        lines = "\n".join(
            f'job,cluster=alex,hostname=mngmt0{i % 3},type=node,type-id={i % 2},'
            f'function=stop_job,loglevel=info event="{{\\"jobId\\": {i}}}" {1740000000 + i}'
            for i in range(50))
        assert server.write(lines).status == 204
        run_schemathesis(server, tmp_path, [f"Authorization: Bearer {token}"] if auth else [])
    finally:
        server.kill()
    assert "Traceback" not in server.log
