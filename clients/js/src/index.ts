export {
  TollgateClient,
  VERSION,
  type Access,
  type AccessReason,
  type Activation,
  type Deactivation,
  type EntitlementInfo,
  type License,
  type TollgateClientOptions,
} from "./client.js";
export { deviceHash, machineId } from "./device.js";
export { ERROR_CODES, TollgateError, type Action, type ActionKind, type ErrorCode } from "./errors.js";
export { InvalidKeysError, parseJwks, type Jwks } from "./keys.js";
export { Lease, LeaseError, MAX_TOKEN_LEN, verifyLease, type DeviceClaim, type LeaseClaims, type LeaseFailure } from "./lease.js";
export { defaultStatePath, STATE_FILE_NAME, type ActivationStatus, type StoredState } from "./state.js";
