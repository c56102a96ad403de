"""JWT authentication: EdDSA only; every failure mode is a 401 JSON answer."""
from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from srvutil import Keys, ServerProcess, sqlite_storage, write_config

from ccstore.server.auth import Authenticator, AuthError

LINE = "ev,cluster=auth,hostname=h,type=node,type-id=0 event=\"x\" 1700000000"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, keys: Keys):


    d = tmp_path_factory.mktemp("auth")
    config = write_config(d, storage=sqlite_storage(d / "auth.db"),
                          api={"address": "127.0.0.1", "port": "0",
                               "jwt_public_key": keys.public_b64})
    s = ServerProcess(d, ["-config", str(config)]).start()
    yield s
    s.kill()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(claims: dict) -> str:
    return (b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "."
            + b64url(json.dumps(claims).encode()) + ".")


def test_valid_token_in_either_header(server, keys: Keys) -> None:
    token = keys.token(exp=int(time.time()) + 3600)
    r = server.write(LINE, headers={"Authorization": f"Bearer {token}"}, auth=False)
    assert r.status == 204, r
    r = server.call("GET", "/api/stats/", headers={"X-Auth-Token": token}, auth=False)
    assert r.status == 200 and r.json()["receivers"]["api"]["written"] >= 1


def test_health_and_openapi_need_no_token(server) -> None:
    assert server.call("GET", "/api/health", auth=False).status == 200
    assert server.call("GET", "/api/openapi.json", auth=False).status == 200


def bad_tokens(keys: Keys) -> dict:
    now = int(time.time())
    other = Ed25519PrivateKey.generate()
    return {
        "missing": {},
        "empty bearer": {"Authorization": "Bearer "},
        "basic scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
        "malformed": {"Authorization": "Bearer not.a.token"},
        "garbage": {"X-Auth-Token": "%%%"},
        "alg none": {"Authorization": "Bearer " + unsigned({"sub": "x", "exp": now + 3600})},
        "HS256 with the public key as secret": {"Authorization": "Bearer " + jwt.encode(
            {"sub": "x", "exp": now + 3600}, keys.public_raw, algorithm="HS256")},
        "HS256 with the base64 public key as secret": {"Authorization": "Bearer " + jwt.encode(
            {"sub": "x"}, keys.public_b64.encode(), algorithm="HS256")},
        "wrong key": {"Authorization": "Bearer " + jwt.encode(
            {"sub": "x", "exp": now + 3600}, other, algorithm="EdDSA")},
        "expired": {"Authorization": "Bearer " + keys.token(exp=now - 10)},
        "not yet valid": {"Authorization": "Bearer " + keys.token(nbf=now + 3600)},
        "exp not a number": {"Authorization": "Bearer " + keys.token(exp="tomorrow")},
        "exp NaN": {"Authorization": "Bearer " + keys.token(exp=float("nan"))},
        "exp Infinity": {"Authorization": "Bearer " + keys.token(exp=float("inf"))},
        "nbf -Infinity": {"Authorization": "Bearer " + keys.token(nbf=float("-inf"))},
        "tampered payload": {"Authorization": "Bearer " + _tamper(keys.token())},
    }


def _tamper(token: str) -> str:
    head, _payload, sig = token.split(".")
    return ".".join([head, b64url(json.dumps({"sub": "admin"}).encode()), sig])


@pytest.mark.parametrize("case", list(bad_tokens(Keys())))
def test_every_failure_mode_is_401_json(server, keys: Keys, case: str) -> None:
    headers = bad_tokens(keys)[case]
    for method, path, body in (("POST", "/api/write/?cluster=auth", LINE),
                               ("GET", "/api/query/", {"cluster": "auth", "queries": []}),
                               ("GET", "/api/count/", None), ("GET", "/api/stats/", None)):
        r = server.call(method, path, body, headers=headers, auth=False)
        assert r.status == 401, (case, path, r)
        assert r.headers["content-type"].startswith("application/json")
        j = r.json()
        assert j["status"] == "Unauthorized" and j["error"]
        assert r.headers.get("www-authenticate") == "Bearer"


def test_rejected_write_stores_nothing(server, keys: Keys) -> None:
    line = "ev,cluster=authreject,hostname=h event=\"sneaky\" 1700000000"
    r = server.write(line, headers={"Authorization": "Bearer " + unsigned({"sub": "x"})},
                     auth=False)
    assert r.status == 401
    ok = {"Authorization": f"Bearer {keys.token()}"}
    r = server.call("GET", "/api/count/?cluster=authreject&kind=event", headers=ok, auth=False)
    assert r.status == 400 and "unknown cluster 'authreject'" in r.json()["error"]


def test_cache_never_outlives_exp(keys: Keys) -> None:
    clock = [1000.0]
    auth = Authenticator(keys.public_raw, clock=lambda: clock[0])
    token = keys.token(exp=1010)
    assert auth.verify(token)["sub"] == "tester"
    clock[0] = 1009.5
    auth.verify(token)
    assert auth.cache_hits == 1  # served from the cache...
    clock[0] = 1010
    with pytest.raises(AuthError, match="expired"):
        auth.verify(token)  # ...but not past exp
    nbf = keys.token(nbf=2000)
    with pytest.raises(AuthError, match="not yet valid"):
        auth.verify(nbf)
    clock[0] = 2000
    assert auth.verify(nbf)["nbf"] == 2000


def test_cache_is_bounded(keys: Keys) -> None:
    auth = Authenticator(keys.public_raw, cache_size=3)
    for i in range(10):
        auth.verify(keys.token(n=i))
    assert auth.stats()["cached"] == 3
