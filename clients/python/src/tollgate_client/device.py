"""The device id: this machine's id, hashed with the app id before it leaves the machine, exactly as the Rust client
does (``crates/client/src/device.rs``), so the same app on the same machine sends the same hwid from any language."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from typing import List, Optional

_DOMAIN = "tollgate-client/device/v1"


def device_hash(app_id: str, machine_id: str) -> str:
    """Lowercase hex SHA-256 over ``"tollgate-client/device/v1"``, the app id and the machine id, each preceded by its
    UTF-8 byte length as an unsigned 64-bit big-endian integer."""
    h = hashlib.sha256()
    for part in (_DOMAIN, app_id, machine_id):
        raw = part.encode("utf-8")
        h.update(len(raw).to_bytes(8, "big"))
        h.update(raw)
    return h.hexdigest()


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def _run(args: List[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_id() -> Optional[str]:
    """This machine's id, from the same sources as the Rust client's ``machine-uid`` crate: ``/var/lib/dbus/machine-id``
    or ``/etc/machine-id`` (Linux), ``IOPlatformUUID`` (macOS), ``MachineGuid`` (Windows), ``/etc/hostid`` or the
    SMBIOS UUID (BSD). ``None`` when it cannot be read."""
    found: Optional[str] = None
    if sys.platform.startswith("linux"):
        found = _read("/var/lib/dbus/machine-id")
        if found is None:
            found = _read("/etc/machine-id")
    elif sys.platform == "darwin":
        match = re.search(r'"IOPlatformUUID" = "([^"]+)"', _run(["ioreg", "-rd1", "-c", "IOPlatformExpertDevice"]))
        found = match.group(1) if match else None
    elif sys.platform == "win32":
        try:
            import winreg

            flags = winreg.KEY_READ | getattr(winreg, "KEY_WOW64_64KEY", 0)
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Cryptography", 0, flags) as key:
                value, _ = winreg.QueryValueEx(key, "MachineGuid")
                found = str(value)
        except OSError:
            found = None
    elif "bsd" in sys.platform:
        found = _read("/etc/hostid")
        if found is None:
            found = _run(["kenv", "-q", "smbios.system.uuid"]).strip()
    if found is None or found.strip() == "":
        return None
    return found.strip()
