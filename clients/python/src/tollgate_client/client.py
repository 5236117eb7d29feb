"""The app-side license client: activate, check (on launch and on a timer), deactivate. The same decisions as the Rust
client (``crates/client/src/client.rs`` and its README), proven by the shared conformance vectors."""

from __future__ import annotations

import json
import math
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, List, Mapping, Optional, Union
from urllib.parse import urlparse

from .device import device_hash, machine_id
from .errors import TollgateError
from .keys import parse_jwks
from .lease import Lease, LeaseError
from .state import STATE_VERSION, StateError, StateFile, StoredState, default_state_path
from .wire import post

__version__ = "0.1.0"

#: The longest license key sent, in UTF-8 bytes (anything longer is not a key).
_MAX_KEY_BYTES = 512
#: How far the clock may be behind the last server time seen before offline access is refused.
_ROLLBACK_TOLERANCE = 300
#: While offline, how soon ``next_check_at`` asks for another try (capped at the lease's ``exp``).
_OFFLINE_RETRY = 900


@dataclass(frozen=True)
class License:
    """What the app shows about the license (from the verified lease)."""

    #: The lease ``sub``.
    entitlement_id: str
    #: The lease ``aud``.
    product: str
    plan: Optional[str]
    status: Optional[str]
    features: List[str]
    #: For display: "license ending in ...".
    key_last4: str
    lease_issued_at: datetime
    #: The end of offline grace: access without reaching the server ends after this instant.
    lease_expires_at: datetime
    #: When the client next revalidates online.
    refresh_after: datetime


@dataclass(frozen=True)
class Access:
    """Access is allowed: why, until when, and when to check again.

    ``reason`` is ``LEASE_FRESH``, ``REVALIDATION_NEEDS_KEY``, ``REVALIDATED`` or ``OFFLINE`` (then ``cause`` is the
    connectivity state to show as a banner, e.g. ``SERVER_UNREACHABLE``).
    """

    reason: str
    #: Call ``check`` again at this instant (the lease's ``refresh_after``, or sooner while offline).
    next_check_at: datetime
    license: License
    cause: Optional[TollgateError] = None


@dataclass(frozen=True)
class EntitlementInfo:
    """The entitlement as the server described it on activation."""

    id: Optional[str]
    provider: Optional[str]
    product: Optional[str]
    status: Optional[str]
    #: Paid through; ``None`` for perpetual licenses.
    current_period_end: Optional[datetime]
    cancel_at_period_end: bool
    #: A pending Dodo OAuth grant the customer must finish.
    oauth_url: Optional[str]


@dataclass(frozen=True)
class Activation:
    license: License
    entitlement: EntitlementInfo
    #: The server's id for this device.
    device_id: Optional[str]


@dataclass(frozen=True)
class Deactivation:
    #: Devices still activated on the license, when the server says.
    remaining_devices: Optional[int]


@dataclass(frozen=True)
class _Grant:
    lease: Lease
    entitlement: EntitlementInfo
    device_id: Optional[str]
    server_time: datetime


def _at(secs: float) -> datetime:
    return datetime.fromtimestamp(secs, timezone.utc)


def _key_last4(key: str) -> str:
    # never the whole key, even a very short one
    keep = min(4, len(key) // 2)
    return key[len(key) - keep :]


def _normalized_key(key: object) -> str:
    if not isinstance(key, str):
        raise TollgateError("INVALID_LICENSE")
    text = key.strip()
    if not text or len(text.encode("utf-8")) > _MAX_KEY_BYTES or any(unicodedata.category(c) == "Cc" for c in text):
        raise TollgateError("INVALID_LICENSE")
    return text


def _license(lease: Lease, last4: str) -> License:
    c = lease.claims
    return License(
        entitlement_id=c.sub,
        product=lease.product,
        plan=c.plan,
        status=c.status,
        features=lease.features,
        key_last4=last4,
        lease_issued_at=_at(c.iat),
        lease_expires_at=_at(c.exp),
        refresh_after=_at(c.refresh_after),
    )


def _id_text(value: Any) -> Optional[str]:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _entitlement_info(value: Any) -> EntitlementInfo:
    v = value if isinstance(value, Mapping) else {}

    def text(k: str) -> Optional[str]:
        value = v.get(k)
        return value if isinstance(value, str) else None

    end: Optional[datetime] = None
    raw_end = text("current_period_end")
    if raw_end is not None:
        try:
            end = datetime.fromisoformat(raw_end.replace("Z", "+00:00")).astimezone(timezone.utc)
        except ValueError:
            end = None
    return EntitlementInfo(
        id=_id_text(v.get("id")),
        provider=text("provider"),
        product=text("product"),
        status=text("status"),
        current_period_end=end,
        cancel_at_period_end=v.get("cancel_at_period_end") is True,
        oauth_url=text("oauth_url"),
    )


def _remaining_devices(text: str) -> Optional[int]:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    n = value.get("remaining_devices")
    if isinstance(n, int) and not isinstance(n, bool) and n >= 0:
        return n
    if isinstance(n, list):
        return len(n)
    devices = value.get("devices")
    return len(devices) if isinstance(devices, list) else None


def _denial_status(err: TollgateError) -> Optional[str]:
    return {
        "INVALID_LICENSE": "invalid_license",
        "IN_USE_ON_ANOTHER_DEVICE": "in_use_on_another_device",
        "DEVICE_LIMIT_REACHED": "in_use_on_another_device",
        "LICENSE_INACTIVE": "license_inactive",
        "PAYMENT_ISSUE": "payment_issue",
        "NOT_ACTIVATED": "device_not_activated",
    }.get(err.code)


class TollgateClient:
    """The app-side Tollgate license client. Thread-safe: one operation at a time per instance."""

    def __init__(
        self,
        server_url: str,
        app_id: str,
        jwks: Union[Mapping[str, Any], str, bytes],
        state_path: Optional[Union[str, Path]] = None,
        device_id: Optional[str] = None,
        clock: Optional[Callable[[], float]] = None,
        purchase_url: Optional[str] = None,
        timeout: float = 10.0,
        *,
        audience: Optional[str] = None,
        device_name: Optional[str] = None,
    ) -> None:
        """Raises a ``MISCONFIGURED`` :class:`TollgateError` for options it cannot use.

        ``jwks`` is the server's JWKS (``GET /.well-known/jwks.json``), shipped with the app, as a dict or JSON text.
        ``device_id`` replaces this machine's id (before hashing). ``clock`` returns epoch seconds (default
        ``time.time``). ``timeout`` is per request, in seconds.
        """
        parsed = urlparse(server_url) if isinstance(server_url, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise TollgateError("MISCONFIGURED") from ValueError("the license server URL is not an http(s) URL")
        if not isinstance(app_id, str) or not app_id.strip():
            raise TollgateError("MISCONFIGURED") from ValueError("the license client needs an app id")
        try:
            self._keys = parse_jwks(jwks)
        except ValueError as err:
            raise TollgateError("MISCONFIGURED") from err
        path = Path(state_path) if state_path is not None else default_state_path(app_id)
        if path is None:
            raise TollgateError("MISCONFIGURED", storage=True) from OSError("no home directory")
        self.state_path = path
        self._state = StateFile(path)
        self._server_url = server_url.rstrip("/")
        self._app_id = app_id
        self._device_id = device_id
        self._clock: Callable[[], float] = clock or time.time
        self._purchase_url = purchase_url
        self._timeout = timeout
        self._audience = audience
        self._device_name = device_name
        self._lock = threading.Lock()

    def activate(self, key: str) -> Activation:
        """Activates this device with a license key and stores the verified lease."""
        key = _normalized_key(key)
        with self._lock:
            device = self._device_hash()
            now = _at(self._clock())
            body = {"license_key": key, "hwid": device}
            if self._device_name is not None:
                body["device_name"] = self._device_name
            answer = self._post("/api/license/activate", body, None)
            grant = self._accept_grant(answer.text, answer.date, device)
            last4 = _key_last4(key)
            self._save(
                StoredState(
                    version=STATE_VERSION,
                    status="active",
                    device_hash=device,
                    key_last4=last4,
                    activated_at=now,
                    last_online_at=now,
                    last_server_time=grant.server_time,
                    lease=grant.lease.token,
                )
            )
            return Activation(_license(grant.lease, last4), grant.entitlement, grant.device_id)

    def check(self) -> Access:
        """Checks access without the license key: a fresh lease allows without network; once ``refresh_after`` has
        passed, the lease still allows until its ``exp`` (``REVALIDATION_NEEDS_KEY``), then ``OFFLINE_GRACE_EXPIRED``.
        Call on launch and at ``next_check_at``."""
        with self._lock:
            return self._check(None)

    def check_with_key(self, key: str) -> Access:
        """Like :meth:`check`, and once ``refresh_after`` has passed (or the clock went back, or the saved lease is
        unusable) revalidates online with the key the app keeps in its own secure storage."""
        key = _normalized_key(key)
        with self._lock:
            return self._check(key)

    def deactivate(self, key: str) -> Deactivation:
        """Frees this device on the server (for moving to another computer) and clears the local state."""
        key = _normalized_key(key)
        with self._lock:
            device = self._device_hash()
            remaining: Optional[int] = None
            try:
                answer = self._post("/api/license/deactivate", {"license_key": key, "hwid": device}, None)
                remaining = _remaining_devices(answer.text)
            except TollgateError as err:
                # the server already does not know this device: nothing left to free
                if err.code != "NOT_ACTIVATED":
                    raise
            try:
                self._state.clear()
            except StateError as err:
                raise TollgateError("MISCONFIGURED", storage=True) from err
            return Deactivation(remaining)

    def stored_state(self) -> Optional[StoredState]:
        """The saved state as it is on disk (for a status screen); no verification, no network."""
        return self._load()

    def _check(self, key: Optional[str]) -> Access:
        now = self._clock()
        device = self._device_hash()
        state = self._load()
        if state is None or state.device_hash != device:
            # none, or made on another device or for another app id
            raise TollgateError("NOT_ACTIVATED")
        # What offline access is based on, or why there is none.
        basis: Union[Lease, TollgateError]
        basis = self._stored_lease(state, device) if state.status == "active" else self._denial_error(state.status)
        rollback = now + _ROLLBACK_TOLERANCE < state.last_server_time.timestamp()
        if isinstance(basis, Lease) and not rollback and not basis.refresh_due(now) and _time_ok(basis, now):
            return Access("LEASE_FRESH", _at(basis.claims.refresh_after), _license(basis, state.key_last4))
        reason = "REVALIDATION_NEEDS_KEY"
        cause: Optional[TollgateError] = None
        if key is not None:
            keep_working_until = _at(basis.claims.exp) if isinstance(basis, Lease) else None
            try:
                return self._revalidate(key, device, state, keep_working_until, _at(now))
            except TollgateError as err:
                if not err.is_connectivity:
                    raise
                reason, cause = "OFFLINE", err
        if not isinstance(basis, Lease):
            raise basis
        lease = basis
        if rollback or now + _ROLLBACK_TOLERANCE < lease.not_before:
            raise TollgateError("CLOCK_ROLLBACK")
        if math.floor(now) > lease.claims.exp:
            raise TollgateError("OFFLINE_GRACE_EXPIRED", expired_at=_at(lease.claims.exp))
        return Access(
            reason,
            _at(min(now + _OFFLINE_RETRY, lease.claims.exp)),
            _license(lease, state.key_last4),
            cause,
        )

    def _revalidate(
        self,
        key: str,
        device: str,
        state: StoredState,
        keep_working_until: Optional[datetime],
        now: datetime,
    ) -> Access:
        try:
            answer = self._post("/api/license/validate", {"license_key": key, "hwid": device}, keep_working_until)
            grant = self._accept_grant(answer.text, answer.date, device)
        except TollgateError as err:
            status = _denial_status(err)
            # a refusal is saved (the next offline launch is refused too), unless the key is not the activated one
            if status is not None and _key_last4(key) == state.key_last4:
                self._save(state.evolve(status=status, lease=None, last_online_at=now))
            raise
        renewed = state.evolve(
            status="active",
            key_last4=_key_last4(key),
            last_online_at=now,
            last_server_time=max(grant.server_time, state.last_server_time),
            lease=grant.lease.token,
        )
        self._save(renewed)
        return Access("REVALIDATED", _at(grant.lease.claims.refresh_after), _license(grant.lease, renewed.key_last4))

    def _stored_lease(self, state: StoredState, device: str) -> Union[Lease, TollgateError]:
        """The saved lease, if its signature verifies, it is for the expected product and its device claim is this
        machine's. A lease made for another machine is ``NOT_ACTIVATED``; any other failure ``STATE_CORRUPT``."""
        if state.lease is None:
            return TollgateError("STATE_CORRUPT")
        try:
            return self._verified(state.lease, device)
        except LeaseError as err:
            error = TollgateError("NOT_ACTIVATED" if err.reason == "wrong_device" else "STATE_CORRUPT")
            error.__cause__ = err
            return error

    def _verified(self, token: str, device: str) -> Lease:
        lease = Lease.parse(token)
        lease.verify_signature(self._keys)
        if self._audience is not None:
            lease.check_audience(self._audience)
        lease.check_device(device)
        return lease

    def _accept_grant(self, text: str, date: Optional[datetime], device: str) -> _Grant:
        try:
            body = json.loads(text)
        except ValueError as err:
            raise TollgateError("UNEXPECTED_RESPONSE") from err
        lease_body = body.get("lease") if isinstance(body, dict) else None
        token = lease_body.get("token") if isinstance(lease_body, dict) else None
        if not isinstance(token, str):
            raise TollgateError("UNEXPECTED_RESPONSE") from ValueError("the 200 body is not the contract's")
        try:
            lease = self._verified(token, device)
            # Judge a fresh lease by the server's clock, so a wrong local clock cannot reject a genuine answer.
            issued = _at(lease.claims.iat)
            server_time = issued if date is None else max(date, issued)
            lease.check_time(server_time.timestamp())
        except LeaseError as err:
            raise TollgateError("UNEXPECTED_RESPONSE") from err
        device_body = body.get("device")
        return _Grant(
            lease=lease,
            entitlement=_entitlement_info(body.get("entitlement")),
            device_id=_id_text(device_body.get("id")) if isinstance(device_body, dict) else None,
            server_time=server_time,
        )

    def _denial_error(self, status: str) -> TollgateError:
        if status == "invalid_license":
            return TollgateError("INVALID_LICENSE")
        if status == "in_use_on_another_device":
            return TollgateError("IN_USE_ON_ANOTHER_DEVICE")
        if status == "license_inactive":
            return TollgateError("LICENSE_INACTIVE", purchase_url=self._purchase_url)
        if status == "payment_issue":
            return TollgateError("PAYMENT_ISSUE", purchase_url=self._purchase_url)
        return TollgateError("NOT_ACTIVATED")

    def _device_hash(self) -> str:
        if self._device_id is not None:
            return device_hash(self._app_id, self._device_id)
        found = machine_id()
        if found is None:
            raise TollgateError("MISCONFIGURED", device_id_unavailable=True) from OSError("machine id unavailable")
        return device_hash(self._app_id, found)

    def _load(self) -> Optional[StoredState]:
        try:
            return self._state.load()
        except StateError as err:
            if err.kind == "corrupt":
                raise TollgateError("STATE_CORRUPT") from err
            raise TollgateError("MISCONFIGURED", storage=True) from err

    def _save(self, state: StoredState) -> None:
        try:
            self._state.save(state)
        except StateError as err:
            raise TollgateError("MISCONFIGURED", storage=True) from err

    def _post(self, path: str, body: Any, keep_working_until: Optional[datetime]) -> Any:
        return post(
            f"{self._server_url}{path}",
            body,
            timeout=self._timeout,
            user_agent=f"tollgate-client-python/{__version__}",
            purchase_url=self._purchase_url,
            keep_working_until=keep_working_until,
        )


def _time_ok(lease: Lease, now: float) -> bool:
    try:
        lease.check_time(now)
        return True
    except LeaseError:
        return False


__all__ = ["Access", "Activation", "Deactivation", "EntitlementInfo", "License", "TollgateClient"]
