"""The user-safe states an app shows: a stable code, a sentence for a person and an action.

The texts are the Rust client's (``crates/client/src/error.rs``), checked by the conformance vectors, so every
Tollgate client says the same thing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional, Tuple

#: Every code a :class:`TollgateError` can carry (the same strings in the Rust and JavaScript clients).
ERROR_CODES: Tuple[str, ...] = (
    "INVALID_LICENSE",
    "IN_USE_ON_ANOTHER_DEVICE",
    "DEVICE_LIMIT_REACHED",
    "LICENSE_INACTIVE",
    "PAYMENT_ISSUE",
    "NOT_ACTIVATED",
    "RATE_LIMITED",
    "TRANSFER_NOT_ALLOWED",
    "TRANSFER_COOLDOWN",
    "SERVICE_UNAVAILABLE",
    "SERVER_UNREACHABLE",
    "OFFLINE_GRACE_EXPIRED",
    "CLOCK_ROLLBACK",
    "STATE_CORRUPT",
    "UNEXPECTED_RESPONSE",
    "MISCONFIGURED",
)

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def human_date(at: datetime) -> str:
    """How dates are written in messages: ``31 May 2026, 20:26 UTC``."""
    at = at.astimezone(timezone.utc)
    return f"{at.day} {_MONTHS[at.month - 1]} {at.year}, {at.hour:02d}:{at.minute:02d} UTC"


def human_wait(secs: int) -> str:
    if secs == 1:
        return "1 second"
    if secs <= 90:
        return f"{secs} seconds"
    if secs <= 5400:
        return f"{math.ceil(secs / 60)} minutes"
    return f"{math.ceil(secs / 3600)} hours"


@dataclass(frozen=True)
class Action:
    """What the app should offer the person next: a button or a prompt."""

    #: ``ENTER_KEY``, ``DEACTIVATE_ELSEWHERE``, ``RENEW``, ``UPDATE_PAYMENT``, ``RETRY_LATER``, ``CHECK_CONNECTION``,
    #: ``FIX_CLOCK`` or ``CONTACT_SUPPORT``.
    kind: str
    #: A short label for a button, e.g. "Renew at https://shop.example/renew".
    label: str
    #: For ``RENEW`` and ``UPDATE_PAYMENT``: where, when the app configured a ``purchase_url``.
    url: Optional[str] = None
    #: For ``RETRY_LATER``: how long to wait, when the server said.
    retry_after: Optional[int] = None


def _message(code: str, e: "TollgateError") -> str:
    url, wait, until = e.purchase_url, e.retry_after, e.keep_working_until
    if code == "INVALID_LICENSE":
        return "This license key is not valid. Check that you entered it exactly as in your purchase email."
    if code == "IN_USE_ON_ANOTHER_DEVICE":
        return "This license key is already in use on another computer. Deactivate it there, or contact support."
    if code == "DEVICE_LIMIT_REACHED":
        return (
            "This license key is already activated on as many computers as it allows. Deactivate it on one of "
            "them, or contact support."
        )
    if code == "LICENSE_INACTIVE":
        if url:
            return f"Your license is no longer active. Renew at {url}."
        return "Your license is no longer active. Renew it from your account, or contact support."
    if code == "PAYMENT_ISSUE":
        if url:
            return f"There is a problem with your latest payment. Update your payment method at {url}, then try again."
        return "There is a problem with your latest payment. Update your payment method with the store, then try again."
    if code == "RATE_LIMITED":
        if wait is not None:
            return f"Too many attempts. Wait {human_wait(wait)} and try again."
        return "Too many attempts. Wait a few minutes and try again."
    if code == "SERVER_UNREACHABLE":
        if until is not None:
            return (
                "The license server could not be reached. Check your connection; you can keep working until "
                f"{human_date(until)}."
            )
        return "The license server could not be reached. Check your connection and try again."
    if code == "SERVICE_UNAVAILABLE":
        if until is not None:
            return (
                "The license service is temporarily unavailable. Try again in a few minutes; you can keep working "
                f"until {human_date(until)}."
            )
        return "The license service is temporarily unavailable. Try again in a few minutes."
    if code == "OFFLINE_GRACE_EXPIRED":
        expired = e.expired_at or datetime.fromtimestamp(0, timezone.utc)
        return (
            f"Your license needed to be checked online by {human_date(expired)}. Connect to the internet so it can "
            "be checked."
        )
    if code == "CLOCK_ROLLBACK":
        return (
            "This computer's clock is set earlier than when your license was last checked. Set the correct date and "
            "time, or connect to the internet so it can be checked again."
        )
    if code == "NOT_ACTIVATED":
        return "This computer is not activated. Enter your license key to activate it."
    if code == "TRANSFER_NOT_ALLOWED":
        return "This license cannot be moved to another computer from the app. Contact support to move it."
    if code == "TRANSFER_COOLDOWN":
        if wait is not None:
            return f"This license was moved recently. You can move it again in {human_wait(wait)}."
        return "This license was moved recently. Try again later, or contact support."
    if code == "STATE_CORRUPT":
        return (
            "The license information saved on this computer is damaged or was changed. Enter your license key to "
            "activate again."
        )
    if code == "UNEXPECTED_RESPONSE":
        return (
            "The license server sent an answer this app could not use. Make sure the app is up to date, or contact "
            "support."
        )
    if e.storage:
        return (
            "This app could not save its license information. Check that your disk is not full and that your user "
            "folder is writable."
        )
    if e.device_id_unavailable:
        return "This computer's id could not be read, so a license cannot be bound to it. Contact support."
    return "This app is not set up correctly to check licenses. Contact support."


def _action(code: str, e: "TollgateError") -> Action:
    if code in ("INVALID_LICENSE", "NOT_ACTIVATED", "STATE_CORRUPT"):
        return Action("ENTER_KEY", "Enter license key")
    if code in ("IN_USE_ON_ANOTHER_DEVICE", "DEVICE_LIMIT_REACHED"):
        return Action("DEACTIVATE_ELSEWHERE", "Deactivate on the other computer")
    if code == "LICENSE_INACTIVE":
        if e.purchase_url:
            return Action("RENEW", f"Renew at {e.purchase_url}", url=e.purchase_url)
        return Action("RENEW", "Renew your license")
    if code == "PAYMENT_ISSUE":
        if e.purchase_url:
            return Action("UPDATE_PAYMENT", f"Update payment at {e.purchase_url}", url=e.purchase_url)
        return Action("UPDATE_PAYMENT", "Update your payment method")
    if code in ("RATE_LIMITED", "TRANSFER_COOLDOWN") and e.retry_after is not None:
        return Action("RETRY_LATER", f"Try again in {human_wait(e.retry_after)}", retry_after=e.retry_after)
    if code in ("RATE_LIMITED", "TRANSFER_COOLDOWN", "SERVICE_UNAVAILABLE"):
        return Action("RETRY_LATER", "Try again later")
    if code in ("SERVER_UNREACHABLE", "OFFLINE_GRACE_EXPIRED"):
        return Action("CHECK_CONNECTION", "Check your internet connection")
    if code == "CLOCK_ROLLBACK":
        return Action("FIX_CLOCK", "Set the correct date and time")
    return Action("CONTACT_SUPPORT", "Contact support")


class TollgateError(Exception):
    """Why a license operation did not give access.

    Show ``.message`` and offer ``.action``; switch on ``.code``. The technical cause (HTTP status, JSON or file
    error) is ``__cause__``, for logs; it is never the message.
    """

    def __init__(
        self,
        code: str,
        *,
        purchase_url: Optional[str] = None,
        retry_after: Optional[int] = None,
        keep_working_until: Optional[datetime] = None,
        expired_at: Optional[datetime] = None,
        storage: bool = False,
        device_id_unavailable: bool = False,
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown Tollgate error code {code!r}")
        self.code = code
        self.purchase_url = purchase_url
        #: ``RATE_LIMITED`` / ``TRANSFER_COOLDOWN``: seconds to wait, when the server said.
        self.retry_after = retry_after
        #: ``SERVER_UNREACHABLE`` / ``SERVICE_UNAVAILABLE``: the current lease's ``exp``, when there is one.
        self.keep_working_until = keep_working_until
        #: ``OFFLINE_GRACE_EXPIRED``: the lease's ``exp``.
        self.expired_at = expired_at
        self.storage = storage
        self.device_id_unavailable = device_id_unavailable
        self.message = _message(code, self)
        self.action = _action(code, self)
        super().__init__(self.message)

    @property
    def is_connectivity(self) -> bool:
        """A transient failure to reach a usable server (offline grace applies), not the server's verdict."""
        return self.code in ("SERVER_UNREACHABLE", "SERVICE_UNAVAILABLE", "RATE_LIMITED", "UNEXPECTED_RESPONSE")

    def __repr__(self) -> str:
        return f"TollgateError({self.code!r})"
