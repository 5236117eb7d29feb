"""The state file: the activation status, timestamps, the lease token, the device hash and the last 4 characters of
the key. Never the full license key. The same format and default place as the Rust client's
(``crates/client/src/state.rs``), written atomically (a temporary file in the same directory, fsync, rename, fsync of
the directory) with mode 0600 in a 0700 directory."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Optional, Union

#: The file name inside the platform config directory.
STATE_FILE_NAME = "tollgate-license.json"
STATE_VERSION = 1
_MAX_STATE_BYTES = 64 * 1024
STATUSES = (
    "active",
    "invalid_license",
    "in_use_on_another_device",
    "license_inactive",
    "payment_issue",
    "device_not_activated",
)
_FIELDS = (
    "version",
    "status",
    "device_hash",
    "key_last4",
    "activated_at",
    "last_online_at",
    "last_server_time",
    "lease",
)
_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class StateError(Exception):
    """The state could not be read (``kind == "corrupt"``) or written (``kind == "storage"``)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True)
class StoredState:
    """What is kept on disk between launches (times are timezone-aware UTC)."""

    version: int
    status: str
    #: The device hash this state was made on: a file copied from another machine is refused.
    device_hash: str
    #: For display ("license ending in 7F3A").
    key_last4: str
    activated_at: datetime
    #: The last successful online activation or revalidation (local clock).
    last_online_at: datetime
    #: The latest verified server time seen (lease ``iat``, HTTP ``Date``): the clock-rollback floor.
    last_server_time: datetime
    #: The signed lease; ``None`` once the server denied access.
    lease: Optional[str]

    def evolve(self, **changes: Any) -> "StoredState":
        return replace(self, **changes)


def _time(value: Any) -> datetime:
    match = _RFC3339.match(value) if isinstance(value, str) else None
    if match is None:
        raise StateError("corrupt", "a time is not RFC 3339")
    date, clock, fraction, offset = match.groups()
    micros = (fraction or ".0")[1:7].ljust(6, "0")
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(f"{date}T{clock}.{micros}{offset}").astimezone(timezone.utc)
    except ValueError:
        raise StateError("corrupt", "a time is not RFC 3339") from None


def _format(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _parse(raw: bytes) -> StoredState:
    try:
        value = json.loads(raw.decode("utf-8"))
    except ValueError:
        raise StateError("corrupt", "license state file is not JSON") from None
    if not isinstance(value, dict):
        raise StateError("corrupt", "license state file is not an object")
    unknown = [k for k in value if k not in _FIELDS]
    if unknown:
        raise StateError("corrupt", f"license state file has unknown fields: {', '.join(unknown)}")

    def text(v: Any) -> str:
        if not isinstance(v, str):
            raise StateError("corrupt", "license state file has a field of the wrong type")
        return v

    version = value.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise StateError("corrupt", "license state file has no version")
    if value.get("status") not in STATUSES:
        raise StateError("corrupt", "license state file has an unknown status")
    lease = value.get("lease")
    state = StoredState(
        version=version,
        status=value["status"],
        device_hash=text(value.get("device_hash")),
        key_last4=text(value.get("key_last4")),
        activated_at=_time(value.get("activated_at")),
        last_online_at=_time(value.get("last_online_at")),
        last_server_time=_time(value.get("last_server_time")),
        lease=None if lease is None else text(lease),
    )
    if state.version != STATE_VERSION:
        raise StateError("corrupt", "license state file has an unknown version")
    return state


def default_state_path(app_id: str) -> Optional[Path]:
    """The platform config dir for the app id, as the Rust client's ``directories`` crate names it:
    ``$XDG_CONFIG_HOME/<app id, lower-cased, without spaces>/`` or ``~/.config/...`` on Linux,
    ``~/Library/Application Support/<app id>/`` on macOS, ``%APPDATA%\\<app id>\\config\\`` on Windows."""
    home = Path.home() if "HOME" in os.environ or sys.platform == "win32" else None
    if sys.platform == "darwin":
        if home is None:
            return None
        return home / "Library" / "Application Support" / app_id.replace(" ", "-") / STATE_FILE_NAME
    if sys.platform == "win32":
        appdata = os.environ.get("APPDATA")
        return Path(appdata) / app_id / "config" / STATE_FILE_NAME if appdata else None
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if xdg.startswith("/") else (home / ".config" if home is not None else None)
    if base is None:
        return None
    return base / "".join(app_id.split()).lower() / STATE_FILE_NAME


class StateFile:
    def __init__(self, path: Union[str, "os.PathLike[str]"]) -> None:
        self.path = Path(path)

    def load(self) -> Optional[StoredState]:
        """The state, ``None`` when there is none; raises :class:`StateError`."""
        try:
            with open(self.path, "rb") as f:
                raw = f.read(_MAX_STATE_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise StateError("storage", f"cannot read the license state file: {err}") from err
        if len(raw) > _MAX_STATE_BYTES:
            raise StateError("corrupt", "license state file is too large")
        return _parse(raw)

    def save(self, state: StoredState) -> None:
        """Replaces the state atomically: a reader sees the old file or the new one, never a mix."""
        document: Dict[str, Any] = {
            "version": state.version,
            "status": state.status,
            "device_hash": state.device_hash,
            "key_last4": state.key_last4,
            "activated_at": _format(state.activated_at),
            "last_online_at": _format(state.last_online_at),
            "last_server_time": _format(state.last_server_time),
            "lease": state.lease,
        }
        directory = self.path.parent
        tmp: Optional[str] = None
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            # mkstemp creates the file with mode 0600, in the same directory so the rename is atomic
            fd, tmp = tempfile.mkstemp(prefix=".tollgate-license.", suffix=".tmp", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(document, f, indent=2)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            tmp = None
            if sys.platform != "win32":
                dir_fd = os.open(directory, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except OSError as err:
            raise StateError("storage", f"cannot save the license state file: {err}") from err
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def clear(self) -> None:
        """Removes the state (after a deactivation). Missing is fine."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return
        except OSError as err:
            raise StateError("storage", f"cannot remove the license state file: {err}") from err
