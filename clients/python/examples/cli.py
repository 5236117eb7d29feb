#!/usr/bin/env python3
"""A small terminal app licensed with tollgate_client: it asks for the key, shows a spinner while activating, shows
the plan and the offline grace, every refusal with its message and action, and has status / revalidate / deactivate
commands. Against `tollgate dev`:

    cargo run -p tollgate -- dev            # prints the URL and the demo keys
    curl -s http://127.0.0.1:8080/.well-known/jwks.json > jwks.json
    python examples/cli.py --server http://127.0.0.1:8080 --jwks jwks.json

Options: --server URL, --app-id ID, --jwks FILE (the server's JWKS, shipped with your app), --state FILE,
--device-id ID (pretend to be another computer), --purchase-url URL.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import threading
from datetime import datetime, timezone
from typing import Callable, Optional, TypeVar

from tollgate_client import License, TollgateClient, TollgateError

T = TypeVar("T")


def spinning(label: str, work: Callable[[], T]) -> T:
    """Runs ``work`` with a spinner on stderr."""
    done = threading.Event()

    def spin() -> None:
        for frame in itertools.cycle("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"):
            if done.wait(0.08):
                break
            sys.stderr.write(f"\r{frame} {label}")
            sys.stderr.flush()
        sys.stderr.write("\r" + " " * (len(label) + 2) + "\r")

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        return work()
    finally:
        done.set()
        thread.join()


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def show_license(lic: License) -> None:
    hours = max(0, int((lic.lease_expires_at - datetime.now(timezone.utc)).total_seconds() // 3600))
    print(f"  plan {lic.plan or '-'}, license ending in {lic.key_last4}")
    print(f"  works offline until {day(lic.lease_expires_at)} ({plural(hours // 24, 'day')} {plural(hours % 24, 'hour')})")
    print(f"  next online check {day(lic.refresh_after)}")


def show_error(err: TollgateError) -> None:
    print(f"✗ {err.message}\n  → {err.action.label}   [{err.code}]")


def ask(prompt: str) -> Optional[str]:
    print(prompt, end="", flush=True)
    line = sys.stdin.readline()
    if not line:
        print()
        return None
    return line.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="http://127.0.0.1:8080")
    parser.add_argument("--app-id", default="com.example.tollgate-py-demo")
    parser.add_argument("--jwks", required=True, help="the server's JWKS (GET /.well-known/jwks.json), as a file")
    parser.add_argument("--state")
    parser.add_argument("--device-id")
    parser.add_argument("--purchase-url", default="https://example.com/renew")
    opts = parser.parse_args()
    try:
        with open(opts.jwks, encoding="utf-8") as f:
            jwks = f.read()
        client = TollgateClient(
            server_url=opts.server,
            app_id=opts.app_id,
            jwks=jwks,
            state_path=opts.state,
            device_id=opts.device_id,
            purchase_url=opts.purchase_url,
        )
    except (OSError, TollgateError) as err:
        print(err, file=sys.stderr)
        return 2

    key: Optional[str] = None
    try:
        access = client.check()
        print(f"✓ Licensed ({access.reason}).")
        show_license(access.license)
    except TollgateError as err:
        show_error(err)
        if err.action.kind == "ENTER_KEY":
            entered = ask("License key: ") or ""
            try:
                activation = spinning("Activating…", lambda: client.activate(entered))
                print("✓ Activated.")
                show_license(activation.license)
                key = entered
            except TollgateError as failed:
                show_error(failed)

    print("Commands: status, revalidate, deactivate, quit")
    while True:
        command = ask("> ")
        if command is None or command in ("quit", "exit"):
            return 0
        try:
            if command == "status":
                access = client.check()
                print(f"✓ {access.reason}" + (f": {access.cause.message}" if access.cause else ""))
                show_license(access.license)
            elif command == "revalidate":
                key = key or ask("License key: ") or ""
                the_key = key
                access = spinning("Checking…", lambda: client.check_with_key(the_key))
                print(f"✓ {access.reason}" + (f": {access.cause.message}" if access.cause else ""))
                show_license(access.license)
            elif command == "deactivate":
                key = key or ask("License key: ") or ""
                the_key = key
                done = spinning("Deactivating…", lambda: client.deactivate(the_key))
                left = "" if done.remaining_devices is None else f" ({plural(done.remaining_devices, 'device')} left)"
                print(f"✓ Deactivated on this computer{left}.")
                key = None
            elif command:
                print("Commands: status, revalidate, deactivate, quit")
        except TollgateError as err:
            show_error(err)


if __name__ == "__main__":
    sys.exit(main())
