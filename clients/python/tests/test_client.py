"""What the conformance vectors do not cover: options the client refuses, the state file's mode and atomic writes,
the machine id source, the default state path, and the code list."""

from __future__ import annotations

import json
import stat
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tollgate_client import ERROR_CODES, TollgateClient, TollgateError, default_state_path, machine_id

from conftest import Canned, load_vectors

VECTORS = load_vectors()
APP_ID = VECTORS["client"]["app_id"]
JWKS = VECTORS["client"]["jwks"]


def activation_scenario() -> Dict[str, Any]:
    return next(s for s in VECTORS["scenarios"] if s["name"].startswith("activation, judged"))


def test_the_code_list_is_issue_22s_in_order() -> None:
    assert ERROR_CODES == (
        "INVALID_LICENSE", "IN_USE_ON_ANOTHER_DEVICE", "DEVICE_LIMIT_REACHED", "LICENSE_INACTIVE", "PAYMENT_ISSUE",
        "NOT_ACTIVATED", "RATE_LIMITED", "TRANSFER_NOT_ALLOWED", "TRANSFER_COOLDOWN", "SERVICE_UNAVAILABLE",
        "SERVER_UNREACHABLE", "OFFLINE_GRACE_EXPIRED", "CLOCK_ROLLBACK", "STATE_CORRUPT", "UNEXPECTED_RESPONSE",
        "MISCONFIGURED",
    )  # fmt: skip


@pytest.mark.parametrize(
    "bad",
    [
        {"server_url": "not a url"},
        {"server_url": "ftp://example.com"},
        {"app_id": "  "},
        {"jwks": "{not json"},
        {"jwks": {"keys": []}},
        {"jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": "AAAA"}]}},
    ],
)
def test_options_the_client_cannot_use_are_misconfigured(bad: Dict[str, Any], tmp_path: Path) -> None:
    options: Dict[str, Any] = {"server_url": "http://127.0.0.1:1", "app_id": APP_ID, "jwks": JWKS}
    options.update(bad)
    with pytest.raises(TollgateError) as caught:
        TollgateClient(state_path=tmp_path / "x.json", **options)
    assert caught.value.code == "MISCONFIGURED"
    assert caught.value.message == "This app is not set up correctly to check licenses. Contact support."
    assert caught.value.action.kind == "CONTACT_SUPPORT"


def test_activation_writes_the_state_atomically_0600_without_the_key(canned: Canned, tmp_path: Path) -> None:
    scenario = activation_scenario()
    step = scenario["steps"][0]
    canned.script(step["response"])
    now = [float(step["now"])]
    directory = tmp_path / "fresh" / "nested"
    client = TollgateClient(
        server_url=canned.url,
        app_id=APP_ID,
        jwks=JWKS,
        state_path=directory / "license.json",
        device_id=scenario["machine_id"],
        clock=lambda: now[0],
    )
    client.activate(step["key"])
    path = directory / "license.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert [p.name for p in directory.iterdir()] == ["license.json"], "no temporary file left"
    text = path.read_text(encoding="utf-8")
    assert step["key"] not in text
    assert list(json.loads(text)) == [
        "version", "status", "device_hash", "key_last4", "activated_at", "last_online_at", "last_server_time", "lease",
    ]  # fmt: skip
    # calls from several threads run one after the other and all see a consistent file
    now[0] = float(scenario["steps"][2]["now"])
    reasons: List[str] = []
    threads = [threading.Thread(target=lambda: reasons.append(client.check().reason)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reasons == ["LEASE_FRESH"] * 8


def test_an_unwritable_state_directory_is_misconfigured_with_the_storage_sentence(
    canned: Canned, tmp_path: Path
) -> None:
    scenario = activation_scenario()
    step = scenario["steps"][0]
    canned.script(step["response"])
    (tmp_path / "in-the-way").write_text("")  # a file where the directory should be (root ignores permissions)
    client = TollgateClient(
        server_url=canned.url,
        app_id=APP_ID,
        jwks=JWKS,
        state_path=tmp_path / "in-the-way" / "license.json",
        device_id=scenario["machine_id"],
        clock=lambda: float(step["now"]),
    )
    with pytest.raises(TollgateError) as caught:
        client.activate(step["key"])
    assert caught.value.code == "MISCONFIGURED"
    assert "could not save its license information" in caught.value.message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux machine id files")
def test_the_machine_id_is_read_from_the_same_place_as_the_rust_clients() -> None:
    def read(path: str) -> Any:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError:
            return None

    expected = read("/var/lib/dbus/machine-id")
    if expected is None:
        expected = read("/etc/machine-id")
    assert machine_id() == (expected or None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux paths")
def test_the_default_state_path_is_the_rust_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "/xdg")
    assert default_state_path("Com.Example My App") == Path("/xdg/com.examplemyapp/tollgate-license.json")
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative")
    assert str(default_state_path("app")).endswith("/.config/app/tollgate-license.json")
