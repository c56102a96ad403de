"""JWT authentication of the REST API: Ed25519 (EdDSA) signatures only.

The token comes in ``Authorization: Bearer <token>`` or ``X-Auth-Token:
<token>``.  Anything but an EdDSA signature made with the configured key is
refused: ``alg: none``, HS256 "signed" with the public key as the secret, other
keys, expired (``exp``) and not-yet-valid (``nbf``) tokens.  Verified tokens are
cached (bounded in size); an entry never outlives its token's ``exp``.
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Callable, Dict, Tuple

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["AuthError", "Authenticator", "token_from_headers"]


class AuthError(Exception):
    """The request is not authenticated; the message says why (safe to show)."""


def token_from_headers(environ: Mapping[str, Any]) -> str:
    """The raw token of a WSGI request, or AuthError when there is none."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("use JWT authentication: Authorization: Bearer <token>")
        return token.strip()
    token = environ.get("HTTP_X_AUTH_TOKEN", "").strip()
    if token:
        return token
    raise AuthError("missing token: send Authorization: Bearer <token> or X-Auth-Token")


class Authenticator:
    """Verifies EdDSA JWTs against one Ed25519 public key, with a bounded cache."""

    #: tokens without ``exp`` stay cached at most this long (seconds)
    NO_EXP_TTL = 300.0

    def __init__(self, public_key: bytes, *, cache_size: int = 4096, leeway: float = 0.0,
                 clock: Callable[[], float] = time.time) -> None:
        if len(public_key) != 32:
            raise ValueError("an Ed25519 public key has 32 bytes")
        self._key = Ed25519PublicKey.from_public_bytes(public_key)
        self._leeway = leeway
        self._clock = clock
        self._cache: OrderedDict[str, Tuple[float, Dict[str, Any]]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.verified = 0
        self.rejected = 0
        self.cache_hits = 0

    def verify(self, token: str) -> Dict[str, Any]:
        """The token's claims; raises AuthError when it is not acceptable."""
        now = self._clock()
        with self._lock:
            hit = self._cache.get(token)
            if hit is not None:
                if now < hit[0]:
                    self._cache.move_to_end(token)
                    self.cache_hits += 1
                    return hit[1]
                del self._cache[token]
        try:
            claims = self._check(token, now)
        except AuthError:
            with self._lock:
                self.rejected += 1
            raise
        until = now + self.NO_EXP_TTL
        exp = claims.get("exp")
        if exp is not None:
            until = min(until, float(exp) + self._leeway)
        with self._lock:
            self.verified += 1
            self._cache[token] = (until, claims)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return claims

    def _check(self, token: str, now: float) -> Dict[str, Any]:
        """Signature by PyJWT (EdDSA only); exp and nbf against this authenticator's clock."""
        try:
            claims = jwt.decode(token, self._key, algorithms=["EdDSA"],
                                options={"verify_signature": True, "verify_exp": False,
                                         "verify_nbf": False, "verify_iat": False,
                                         "verify_aud": False, "verify_iss": False})
        except jwt.InvalidAlgorithmError:
            raise AuthError("only EdDSA (Ed25519) signed tokens are accepted") from None
        except jwt.InvalidSignatureError:
            raise AuthError("token signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        if not isinstance(claims, dict):
            raise AuthError("invalid token: the payload is not a JSON object")
        for name in ("exp", "nbf", "iat"):
            v = claims.get(name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                  or not math.isfinite(v)):
                raise AuthError(f"invalid token: {name} must be a finite number")
        exp = claims.get("exp")
        if exp is not None and now >= exp + self._leeway:
            raise AuthError("token expired")
        nbf = claims.get("nbf")
        if nbf is not None and now < nbf - self._leeway:
            raise AuthError("token not yet valid (nbf)")
        return claims

    def authenticate(self, environ: Mapping[str, Any]) -> Dict[str, Any]:
        """Claims of the token carried by a WSGI request; AuthError otherwise."""
        return self.verify(token_from_headers(environ))

    def stats(self) -> dict:
        with self._lock:
            cached = len(self._cache)
        return {"verified": self.verified, "rejected": self.rejected,
                "cache_hits": self.cache_hits, "cached": cached}
