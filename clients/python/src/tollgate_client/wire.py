"""The HTTP contract of the app-facing API (docs/clients.md, "Endpoints"): one POST, the server's ``Date``, and the
mapping from the server's stable codes to the user-safe codes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Optional

import httpx

from .errors import TollgateError


def map_error(
    status: int,
    code: Optional[str],
    *,
    purchase_url: Optional[str],
    retry_after: Optional[int],
    keep_working_until: Optional[datetime],
) -> TollgateError:
    """Maps a non-2xx answer to a user-safe error. ``code`` is ``None`` when the body was not the error body."""
    if code in ("LICENSE_NOT_FOUND", "INVALID_REQUEST"):
        return TollgateError("INVALID_LICENSE")
    if code == "DEVICE_MISMATCH":
        return TollgateError("IN_USE_ON_ANOTHER_DEVICE")
    if code == "DEVICE_LIMIT_REACHED":
        return TollgateError("DEVICE_LIMIT_REACHED")
    if code == "LICENSE_INACTIVE":
        return TollgateError("LICENSE_INACTIVE", purchase_url=purchase_url)
    if code == "PAYMENT_ISSUE":
        return TollgateError("PAYMENT_ISSUE", purchase_url=purchase_url)
    if code == "DEVICE_NOT_ACTIVATED":
        return TollgateError("NOT_ACTIVATED")
    if code == "RATE_LIMITED":
        return TollgateError("RATE_LIMITED", retry_after=retry_after)
    if code == "TRANSFER_NOT_ALLOWED":
        return TollgateError("TRANSFER_NOT_ALLOWED")
    if code == "TRANSFER_COOLDOWN":
        return TollgateError("TRANSFER_COOLDOWN", retry_after=retry_after)
    if code in ("PROVIDER_UNAVAILABLE", "STORAGE_UNAVAILABLE"):
        return TollgateError("SERVICE_UNAVAILABLE", keep_working_until=keep_working_until)
    if status == 429:
        return TollgateError("RATE_LIMITED", retry_after=retry_after)
    if status >= 500:
        return TollgateError("SERVICE_UNAVAILABLE", keep_working_until=keep_working_until)
    return TollgateError("UNEXPECTED_RESPONSE")


@dataclass(frozen=True)
class Answer:
    text: str
    #: The server's ``Date`` header, when it sent a valid one.
    date: Optional[datetime]


class _Refused(Exception):
    """The HTTP cause behind a TollgateError (its ``__cause__``, for logs)."""


def post(
    url: str,
    body: Any,
    *,
    timeout: float,
    user_agent: str,
    purchase_url: Optional[str],
    keep_working_until: Optional[datetime],
) -> Answer:
    """One POST; a 2xx gives the body and the server's ``Date``, anything else raises a user-safe error."""
    try:
        response = httpx.post(
            url,
            content=json.dumps(body).encode("utf-8"),
            headers={"content-type": "application/json", "accept": "application/json", "user-agent": user_agent},
            timeout=timeout,
            follow_redirects=True,
        )
        text = response.text
    except httpx.HTTPError as err:
        raise TollgateError("SERVER_UNREACHABLE", keep_working_until=keep_working_until) from err
    date: Optional[datetime] = None
    header = response.headers.get("date")
    if header:
        try:
            parsed = parsedate_to_datetime(header)
            date = parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        except (TypeError, ValueError, IndexError):
            date = None
    if 200 <= response.status_code < 300:
        return Answer(text=text, date=date)
    code: Optional[str] = None
    try:
        parsed_body = json.loads(text)
        if isinstance(parsed_body, dict) and isinstance(parsed_body.get("code"), str):
            code = parsed_body["code"]
    except ValueError:
        code = None
    retry = (response.headers.get("retry-after") or "").strip()
    retry_after = int(retry) if re.fullmatch(r"[0-9]+", retry) and int(retry) < 2**64 else None
    error = map_error(
        response.status_code,
        code,
        purchase_url=purchase_url,
        retry_after=retry_after,
        keep_working_until=keep_working_until,
    )
    raise error from _Refused(f"HTTP {response.status_code} {code or '-'}")
