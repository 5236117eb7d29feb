"""The public keys leases are verified against: the JWKS the app ships, never fetched and trusted at run time."""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Union

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .b64 import decode_b64url


class InvalidKeysError(ValueError):
    def __init__(self, why: str) -> None:
        super().__init__(f"unusable public keys: {why}")


def _opt_str(jwk: Mapping[str, Any], field: str) -> Union[str, None]:
    value = jwk.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidKeysError("not a JWKS document")
    return value


def parse_jwks(jwks: Union[Mapping[str, Any], str, bytes]) -> Dict[str, Ed25519PublicKey]:
    """The Ed25519 signing keys of a JWKS (a dict or its JSON text), by ``kid``.

    Keys that are not Ed25519 signing keys (``kty: OKP``, ``crv: Ed25519``, ``use`` absent or ``sig``, ``alg`` absent
    or ``EdDSA``) are skipped; none left is an error.
    """
    doc: Any = jwks
    if isinstance(jwks, (str, bytes)):
        try:
            doc = json.loads(jwks)
        except ValueError:
            raise InvalidKeysError("not a JWKS document") from None
    keys = doc.get("keys") if isinstance(doc, Mapping) else None
    if not isinstance(keys, list):
        raise InvalidKeysError("not a JWKS document")
    by_kid: Dict[str, Ed25519PublicKey] = {}
    for jwk in keys:
        if not isinstance(jwk, Mapping):
            raise InvalidKeysError("not a JWKS document")
        kty, crv, x, kid, alg, use = (_opt_str(jwk, f) for f in ("kty", "crv", "x", "kid", "alg", "use"))
        if kty != "OKP" or crv != "Ed25519" or use not in (None, "sig") or alg not in (None, "EdDSA"):
            continue
        if kid is None or x is None:
            raise InvalidKeysError("an Ed25519 key without kid or x")
        raw = decode_b64url(x)
        if raw is None:
            raise InvalidKeysError("x is not base64url")
        if len(raw) != 32:
            raise InvalidKeysError("x is not a 32-byte Ed25519 key")
        by_kid[kid] = Ed25519PublicKey.from_public_bytes(raw)
    if not by_kid:
        raise InvalidKeysError("no Ed25519 signing key")
    return by_kid
