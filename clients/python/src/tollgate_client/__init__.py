"""The app-side Tollgate library for Python: license activation, signed offline leases, bounded offline grace,
user-safe states. See the README, and docs/clients.md in the Tollgate repository for the protocol."""

from .client import (
    Access,
    Activation,
    Deactivation,
    EntitlementInfo,
    License,
    TollgateClient,
    __version__,
)
from .device import device_hash, machine_id
from .errors import ERROR_CODES, Action, TollgateError
from .keys import InvalidKeysError, parse_jwks
from .lease import MAX_TOKEN_LEN, DeviceClaim, Lease, LeaseClaims, LeaseError, verify_lease
from .state import STATE_FILE_NAME, StoredState, default_state_path

__all__ = [
    "ERROR_CODES",
    "MAX_TOKEN_LEN",
    "STATE_FILE_NAME",
    "Access",
    "Action",
    "Activation",
    "Deactivation",
    "DeviceClaim",
    "EntitlementInfo",
    "InvalidKeysError",
    "Lease",
    "LeaseClaims",
    "LeaseError",
    "License",
    "StoredState",
    "TollgateClient",
    "TollgateError",
    "__version__",
    "default_state_path",
    "device_hash",
    "machine_id",
    "parse_jwks",
    "verify_lease",
]
