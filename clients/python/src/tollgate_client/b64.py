"""Strict base64url without padding, as the Rust client reads it: only the URL-safe alphabet, no ``=``, canonical."""

from __future__ import annotations

import base64
import re
from typing import Optional

_ALPHABET = re.compile(r"^[A-Za-z0-9_-]*$")


def decode_b64url(text: str) -> Optional[bytes]:
    if not isinstance(text, str) or not _ALPHABET.match(text) or len(text) % 4 == 1:
        return None
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return raw if encode_b64url(raw) == text else None


def encode_b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
