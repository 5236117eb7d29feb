"""The lease token: a compact JWS (``alg: EdDSA``, ``kid`` in the header) signed by Tollgate, parsed exactly as the
Rust client parses it (``crates/client/src/lease.rs``). Parsing raises nothing but :class:`LeaseError`.

Validity rule, shared with the server: a lease is valid while ``nbf <= now <= exp`` in whole Unix seconds, so a lease
with ``exp = T`` is still valid at exactly ``T`` and expired one second later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Union

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .b64 import decode_b64url

#: The longest token accepted, in bytes (a real lease is well under 1 KiB).
MAX_TOKEN_LEN = 16 * 1024
#: Times further than this from 1970 (in seconds) are refused as malformed.
_MAX_ABS_SECS = 8_210_000_000_000

#: ``malformed``, ``unsupported_algorithm``, ``unknown_kid``, ``bad_signature``, ``not_yet_valid``, ``expired``,
#: ``wrong_audience``, ``wrong_device``.
LeaseFailure = str


class LeaseError(ValueError):
    """Why a lease token was rejected: detail for logs and tooling (the app shows a TollgateError instead)."""

    def __init__(self, reason: LeaseFailure, detail: str) -> None:
        super().__init__(f"{reason.replace('_', ' ')}: {detail}")
        self.reason = reason


def _malformed(why: str) -> LeaseError:
    return LeaseError("malformed", why)


@dataclass(frozen=True)
class DeviceClaim:
    """The ``dev`` claim: a random salt and ``SHA-256(salt || device hash)``, both base64url without padding."""

    salt: str
    sha256: str


@dataclass(frozen=True)
class LeaseClaims:
    iss: Optional[str]
    sub: str
    aud: Union[str, List[str]]
    iat: int
    nbf: Optional[int]
    exp: int
    refresh_after: int
    hwid: str
    plan: Optional[str]
    status: Optional[str]
    features: Any
    dev: Optional[DeviceClaim]


def _segment_json(segment: str, what: str) -> Any:
    raw = decode_b64url(segment) if segment else None
    if raw is None:
        raise _malformed(what)
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError:
        return None


def _opt_str(value: Any, why: str) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _malformed(why)
    return value


def _int(value: Any, why: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**63 - 1:
        raise _malformed(why)
    return value


def _parse_claims(value: Any) -> LeaseClaims:
    bad = "claims are not a lease"
    if not isinstance(value, Mapping):
        raise _malformed(bad)

    def text(v: Any) -> str:
        if not isinstance(v, str):
            raise _malformed(bad)
        return v

    aud = value.get("aud")
    if not (isinstance(aud, str) or (isinstance(aud, list) and all(isinstance(a, str) for a in aud))):
        raise _malformed(bad)
    dev: Optional[DeviceClaim] = None
    if value.get("dev") is not None:
        raw = value["dev"]
        if not isinstance(raw, Mapping):
            raise _malformed(bad)
        dev = DeviceClaim(salt=text(raw.get("salt")), sha256=text(raw.get("sha256")))
    nbf = value.get("nbf")
    return LeaseClaims(
        iss=_opt_str(value.get("iss"), bad),
        sub=text(value.get("sub")),
        aud=aud,
        iat=_int(value.get("iat"), bad),
        nbf=None if nbf is None else _int(nbf, bad),
        exp=_int(value.get("exp"), bad),
        refresh_after=_int(value.get("refresh_after"), bad),
        hwid=text(value.get("hwid")),
        plan=_opt_str(value.get("plan"), bad),
        status=_opt_str(value.get("status"), bad),
        features=value.get("features"),
        dev=dev,
    )


def _in_range(secs: int, why: str) -> None:
    if abs(secs) > _MAX_ABS_SECS:
        raise _malformed(why)


class Lease:
    """A parsed (not yet verified) lease."""

    def __init__(self, token: str, kid: str, claims: LeaseClaims, signing_input: bytes, signature: bytes) -> None:
        self.token = token
        self.kid = kid
        self.claims = claims
        self._signing_input = signing_input
        self._signature = signature

    @classmethod
    def parse(cls, token: str) -> "Lease":
        """Three base64url segments, a header with ``alg: EdDSA`` and a ``kid`` (and no ``crit``), the claims a lease
        needs, a 64-byte signature. Checks neither the signature nor the time."""
        if not isinstance(token, str) or len(token.encode("utf-8")) > MAX_TOKEN_LEN:
            raise _malformed("token too long")
        parts = token.split(".")
        if len(parts) != 3:
            raise _malformed("not three dot-separated segments")
        header_b64, claims_b64, signature_b64 = parts
        header = _segment_json(header_b64, "header is not base64url")
        if not isinstance(header, Mapping) or not isinstance(header.get("alg"), str):
            raise _malformed("header is not a JSON object")
        kid = _opt_str(header.get("kid"), "header is not a JSON object")
        if header["alg"] != "EdDSA":
            raise LeaseError("unsupported_algorithm", f"unsupported lease algorithm {header['alg']!r}")
        if header.get("crit") is not None:
            raise _malformed("critical header extensions are not supported")
        if kid is None:
            raise _malformed("lease header has no kid")
        claims = _parse_claims(_segment_json(claims_b64, "claims are not base64url"))
        signature = decode_b64url(signature_b64) if signature_b64 else None
        if signature is None:
            raise _malformed("signature is not base64url")
        if len(signature) != 64:
            raise _malformed("signature is not 64 bytes")
        _in_range(claims.iat, "iat out of range")
        _in_range(claims.nbf if claims.nbf is not None else claims.iat, "nbf out of range")
        _in_range(claims.exp, "exp out of range")
        _in_range(claims.refresh_after, "refresh_after out of range")
        return cls(token, kid, claims, f"{header_b64}.{claims_b64}".encode("utf-8"), signature)

    def verify_signature(self, keys: Mapping[str, Ed25519PublicKey]) -> None:
        """Checks the Ed25519 signature against the pinned key named by ``kid``."""
        key = keys.get(self.kid)
        if key is None:
            raise LeaseError("unknown_kid", f"lease signed with unknown key {self.kid!r}")
        try:
            key.verify(self._signature, self._signing_input)
        except InvalidSignature:
            raise LeaseError("bad_signature", "lease signature does not verify") from None

    def check_audience(self, audience: str) -> None:
        aud = self.claims.aud
        if not (aud == audience if isinstance(aud, str) else audience in aud):
            raise LeaseError("wrong_audience", "lease is for another product")

    def check_device(self, device_hash_hex: str) -> None:
        """Checks the device claim against this machine's device hash. A lease without the claim (signed by a server
        older than the claim) passes: the state file's device hash is then the only binding, until it expires."""
        dev = self.claims.dev
        if dev is None:
            return
        salt = decode_b64url(dev.salt) if dev.salt else None
        if salt is None:
            raise _malformed("dev.salt is not base64url")
        want = decode_b64url(dev.sha256) if dev.sha256 else None
        if want is None:
            raise _malformed("dev.sha256 is not base64url")
        if len(want) != 32:
            raise _malformed("dev.sha256 is not 32 bytes")
        got = hashlib.sha256(salt + device_hash_hex.encode("utf-8")).digest()
        if not hmac.compare_digest(got, want):
            raise LeaseError("wrong_device", "lease is for another device")

    def check_time(self, now: float) -> None:
        """``nbf <= now <= exp`` in whole Unix seconds (``now`` may have a fraction; it is floored)."""
        secs = math.floor(now)
        if secs < self.not_before:
            raise LeaseError("not_yet_valid", "lease is not valid yet")
        if secs > self.claims.exp:
            raise LeaseError("expired", "lease has expired")

    def refresh_due(self, now: float) -> bool:
        return math.floor(now) >= self.claims.refresh_after

    @property
    def not_before(self) -> int:
        return self.claims.nbf if self.claims.nbf is not None else self.claims.iat

    @property
    def features(self) -> List[str]:
        f = self.claims.features
        return [x for x in f if isinstance(x, str)] if isinstance(f, list) else []

    @property
    def product(self) -> str:
        aud = self.claims.aud
        return aud if isinstance(aud, str) else (aud[0] if aud else "")


def verify_lease(
    token: str,
    keys: Dict[str, Ed25519PublicKey],
    *,
    now: float,
    device_hash: str,
    audience: Optional[str] = None,
) -> Lease:
    """Parse, signature, audience, device claim and time in one call; raises :class:`LeaseError`."""
    lease = Lease.parse(token)
    lease.verify_signature(keys)
    if audience is not None:
        lease.check_audience(audience)
    lease.check_device(device_hash)
    lease.check_time(now)
    return lease
