"""End to end against a real `tollgate dev` (fake Whop, Dodo and Aghanim on loopback): activate, check offline,
revalidate, a second device refused, deactivate and move, provider down, server down; and the README quick start."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import pytest

from tollgate_client import TollgateClient, TollgateError

from conftest import Dev, closed_port_url

HOUR = 3600.0
APP = "com.example.e2e-py"


def make(dev: Dev, tmp_path: Path, machine: str, clock: Any = None, server_url: Optional[str] = None) -> TollgateClient:
    return TollgateClient(
        server_url=server_url or dev.world["server_url"],
        app_id=APP,
        jwks=dev.world["jwks"],
        state_path=tmp_path / machine / "license.json",
        device_id=machine,
        clock=clock,
        purchase_url="https://shop.example/renew",
    )


def later() -> float:
    return time.time() + 25 * HOUR


def test_activate_check_offline_revalidate_deactivate(dev: Dev, tmp_path: Path) -> None:
    key = dev.world["keys"]["active"]
    a = make(dev, tmp_path, "machine-a")
    activation = a.activate(key)
    assert activation.license.key_last4 == key[-4:]
    text = a.state_path.read_text(encoding="utf-8")
    assert key not in text and "machine-a" not in text
    assert stat.S_IMODE(a.state_path.stat().st_mode) == 0o600

    offline = make(dev, tmp_path, "machine-a", server_url=closed_port_url())
    assert offline.check().reason == "LEASE_FRESH"
    assert offline.check_with_key(key).reason == "LEASE_FRESH"

    due = make(dev, tmp_path, "machine-a", clock=later, server_url=closed_port_url())
    off = due.check_with_key(key)
    assert off.reason == "OFFLINE" and off.cause is not None and off.cause.code == "SERVER_UNREACHABLE"
    assert due.check().reason == "REVALIDATION_NEEDS_KEY"
    assert make(dev, tmp_path, "machine-a", clock=later).check_with_key(key).reason == "REVALIDATED"

    assert a.deactivate(key).remaining_devices == 0
    with pytest.raises(TollgateError) as caught:
        a.check()
    assert caught.value.code == "NOT_ACTIVATED"


def test_a_second_device_is_refused_on_a_node_locked_license_until_the_first_deactivates(
    dev: Dev, tmp_path: Path
) -> None:
    key = dev.world["keys"]["node_locked"]
    first, second = make(dev, tmp_path, "locked-a"), make(dev, tmp_path, "locked-b")
    first.activate(key)
    with pytest.raises(TollgateError) as caught:
        second.activate(key)
    assert caught.value.code == "IN_USE_ON_ANOTHER_DEVICE"
    assert caught.value.action.kind == "DEACTIVATE_ELSEWHERE"
    assert first.deactivate(key).remaining_devices == 0
    second.activate(key)
    assert second.check().reason == "LEASE_FRESH"


def test_a_canceled_license_and_an_unknown_key(dev: Dev, tmp_path: Path) -> None:
    with pytest.raises(TollgateError) as caught:
        make(dev, tmp_path, "c").activate(dev.world["keys"]["canceled"])
    assert caught.value.code == "LICENSE_INACTIVE"
    assert caught.value.message == "Your license is no longer active. Renew at https://shop.example/renew."
    with pytest.raises(TollgateError) as caught:
        make(dev, tmp_path, "c").activate("TGDEV-NOPE-0000-0000")
    assert caught.value.code == "INVALID_LICENSE"


def test_provider_down_activation_says_unavailable_and_revalidation_still_answers(dev: Dev, tmp_path: Path) -> None:
    key = dev.world["keys"]["dodo"]
    make(dev, tmp_path, "outage-a").activate(key)
    dev.outage("dodo", True)
    try:
        with pytest.raises(TollgateError) as caught:
            make(dev, tmp_path, "outage-b").activate(key)
        assert caught.value.code == "SERVICE_UNAVAILABLE"
        assert "temporarily unavailable" in caught.value.message
        again = make(dev, tmp_path, "outage-a", clock=later).check_with_key(key)
        assert again.reason in ("REVALIDATED", "OFFLINE"), again
        if again.reason == "OFFLINE":
            assert again.cause is not None and again.cause.code == "SERVICE_UNAVAILABLE"
    finally:
        dev.outage("dodo", False)
    assert make(dev, tmp_path, "outage-b").activate(key).entitlement.provider == "dodo"


def test_the_readme_quick_start_runs_as_written(dev: Dev, tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    match = re.search(r"## Quick start.*?```python\n(.*?)```", readme, re.S)
    assert match is not None
    code = match.group(1)
    assert len(code.splitlines()) <= 12
    (tmp_path / "jwks.json").write_text(json.dumps(dev.world["jwks"]), encoding="utf-8")
    script = code.replace("http://127.0.0.1:8080", dev.world["server_url"]).replace(
        "TGDEV-ACTV-7Q2M-K9XD", dev.world["keys"]["active"]
    )
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"))
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"works offline until .+\nLEASE_FRESH\n", out.stdout), out.stdout


def test_the_example_cli(dev: Dev, tmp_path: Path) -> None:
    (tmp_path / "jwks.json").write_text(json.dumps(dev.world["jwks"]), encoding="utf-8")
    cli = Path(__file__).resolve().parents[1] / "examples" / "cli.py"

    def run(device: str, stdin: str) -> str:
        args = [sys.executable, str(cli), "--server", dev.world["server_url"], "--jwks", str(tmp_path / "jwks.json")]
        args += ["--state", str(tmp_path / f"{device}.json"), "--device-id", device]
        out = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    first = run("cli-a", f"{dev.world['keys']['active']}\nstatus\nquit\n")
    assert "This computer is not activated. Enter your license key to activate it." in first
    assert re.search(r"✓ Activated\.\n  plan .+, license ending in ", first), first
    assert "✓ LEASE_FRESH" in first
    second = run("cli-b", f"{dev.world['keys']['canceled']}\nquit\n")
    assert (
        "Your license is no longer active. Renew at https://example.com/renew.\n"
        "  → Renew at https://example.com/renew   [LICENSE_INACTIVE]"
    ) in second

