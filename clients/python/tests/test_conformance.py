"""Runs clients/conformance/vectors.json against this package: the same file the Rust and JavaScript clients run."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tollgate_client import (
    Access,
    Activation,
    License,
    LeaseError,
    TollgateClient,
    TollgateError,
    device_hash,
    parse_jwks,
    verify_lease,
)

from conftest import Canned, closed_port_url, load_vectors

VECTORS = load_vectors()
CLIENT = VECTORS["client"]


def secs(at: datetime) -> int:
    return int(at.timestamp())


def error_json(err: TollgateError) -> Dict[str, Any]:
    return {"code": err.code, "message": err.message, "action": {"kind": err.action.kind, "label": err.action.label}}


def license_json(lic: License) -> Dict[str, Any]:
    return {
        "entitlement_id": lic.entitlement_id,
        "product": lic.product,
        "plan": lic.plan,
        "status": lic.status,
        "features": lic.features,
        "key_last4": lic.key_last4,
        "lease_issued_at": secs(lic.lease_issued_at),
        "lease_expires_at": secs(lic.lease_expires_at),
        "refresh_after": secs(lic.refresh_after),
    }


def access_json(a: Access) -> Dict[str, Any]:
    out: Dict[str, Any] = {"reason": a.reason, "next_check_at": secs(a.next_check_at), "license": license_json(a.license)}
    if a.cause is not None:
        out["cause"] = error_json(a.cause)
    return {"access": out}


def activation_json(a: Activation) -> Dict[str, Any]:
    e = a.entitlement
    return {
        "activation": {
            "license": license_json(a.license),
            "device_id": a.device_id,
            "entitlement": {
                "id": e.id,
                "provider": e.provider,
                "product": e.product,
                "status": e.status,
                "current_period_end": None if e.current_period_end is None else secs(e.current_period_end),
                "cancel_at_period_end": e.cancel_at_period_end,
                "oauth_url": e.oauth_url,
            },
        }
    }


def test_device_hashes() -> None:
    assert len(VECTORS["device_hashes"]) >= 5
    for case in VECTORS["device_hashes"]:
        assert device_hash(case["app_id"], case["machine_id"]) == case["hash"], case


def test_the_jwks_keeps_only_the_ed25519_signing_key() -> None:
    assert list(parse_jwks(CLIENT["jwks"])) == ["lease-1"]
    assert list(parse_jwks(json.dumps(CLIENT["jwks"]))) == ["lease-1"]


@pytest.mark.parametrize("case", VECTORS["leases"], ids=lambda c: c["name"])
def test_lease(case: Dict[str, Any]) -> None:
    keys = parse_jwks(CLIENT["jwks"])
    outcome = "valid"
    try:
        verify_lease(
            case["token"],
            keys,
            now=case["now"],
            device_hash=device_hash(CLIENT["app_id"], case["machine_id"]),
            audience=case["audience"],
        )
    except LeaseError as err:
        outcome = err.reason
    assert outcome == case["expect"]


SCENARIOS: List[Dict[str, Any]] = VECTORS["scenarios"] + VECTORS["server_errors"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s["name"])
def test_scenario(scenario: Dict[str, Any], canned: Canned, tmp_path: Path) -> None:
    state_path = tmp_path / "state" / "license.json"
    state_path.parent.mkdir()
    if "state_text" in scenario:
        state_path.write_text(scenario["state_text"], encoding="utf-8")
    elif scenario["state"] is not None:
        state_path.write_text(json.dumps(scenario["state"]), encoding="utf-8")
    closed = closed_port_url()
    for i, step in enumerate(scenario["steps"]):
        context = f"{scenario['name']}, step {i}"
        response = step.get("response")
        canned.script(response if isinstance(response, dict) else None)
        client = TollgateClient(
            server_url=closed if response == "unreachable" else canned.url,
            app_id=CLIENT["app_id"],
            jwks=CLIENT["jwks"],
            state_path=state_path,
            device_id=scenario["machine_id"],
            clock=lambda now=step["now"]: float(now),
            purchase_url=CLIENT["purchase_url"],
        )
        call = step["call"]
        try:
            if call == "check":
                actual = access_json(client.check())
            elif call == "check_with_key":
                actual = access_json(client.check_with_key(step["key"]))
            elif call == "activate":
                actual = activation_json(client.activate(step["key"]))
            elif call == "deactivate":
                actual = {"deactivation": {"remaining_devices": client.deactivate(step["key"]).remaining_devices}}
            else:
                pytest.fail(f"{context}: unknown call {call}")
        except TollgateError as err:
            actual = {"error": error_json(err)}
        expect = {k: v for k, v in step["expect"].items() if k != "note"}
        assert actual == expect, context

        if "request" in step:
            assert canned.requests == [step["request"]], f"{context}: the request sent"
        elif isinstance(response, dict):
            assert len(canned.requests) == 1, f"{context}: one request"
        else:
            assert canned.requests == [], f"{context}: no request expected"

        if "state_after" in step:
            if step["state_after"] is None:
                assert not state_path.exists(), f"{context}: the state file is gone"
            else:
                stored = json.loads(state_path.read_text(encoding="utf-8"))
                for field, value in step["state_after"].items():
                    got = stored[field]
                    if field == "last_server_time":
                        got = int(datetime.fromisoformat(got.replace("Z", "+00:00")).timestamp())
                    assert got == value, f"{context}: state field {field}"
