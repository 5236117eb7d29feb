// The app-side license client: activate, check (on launch and on a timer), deactivate. The same decisions as the
// Rust client (crates/client/src/client.rs and its README), proven by the shared conformance vectors.

import type { KeyObject } from "node:crypto";

import { deviceHash, machineId } from "./device.js";
import { TollgateError } from "./errors.js";
import { parseJwks, type Jwks } from "./keys.js";
import { Lease, LeaseError } from "./lease.js";
import { defaultStatePath, STATE_VERSION, StateError, StateFile, type ActivationStatus, type StoredState } from "./state.js";
import { post } from "./wire.js";

export const VERSION = "0.1.0";

/** The longest license key sent, in UTF-8 bytes (anything longer is not a key). */
const MAX_KEY_BYTES = 512;
/** How far the clock may be behind the last server time seen before offline access is refused. */
const ROLLBACK_TOLERANCE_MS = 5 * 60 * 1000;
/** While offline, how soon `nextCheckAt` asks for another try (capped at the lease's `exp`). */
const OFFLINE_RETRY_MS = 15 * 60 * 1000;

export interface TollgateClientOptions {
  /** The Tollgate server, e.g. `https://licenses.example.com`. */
  serverUrl: string;
  /** Your app's id, e.g. `com.example.myapp`: part of the device hash and of the default state path. */
  appId: string;
  /** The server's JWKS (`GET /.well-known/jwks.json`), shipped with the app: the object or its JSON text. */
  jwks: Jwks | string;
  /** Where the state file lives (default: `tollgate-license.json` in the platform config dir for `appId`). */
  statePath?: string;
  /** Replaces this machine's id (before hashing): for tests, and apps with their own device id. */
  deviceId?: string;
  /** The time, as epoch milliseconds (default `Date.now`). */
  clock?: () => number;
  /** Where a customer renews: shown with `LICENSE_INACTIVE` and `PAYMENT_ISSUE`. */
  purchaseUrl?: string;
  /** The HTTP timeout per request (default 15000). */
  timeoutMs?: number;
  /** The product id leases must carry in `aud`; leases for another product are refused. */
  audience?: string;
  /** A name for this device, sent on activation (for the customer's device list). */
  deviceName?: string;
}

/** What the app shows about the license (from the verified lease). */
export interface License {
  /** The lease `sub`. */
  entitlementId: string;
  /** The lease `aud`. */
  product: string;
  plan: string | null;
  status: string | null;
  features: string[];
  /** For display: "license ending in …". */
  keyLast4: string;
  leaseIssuedAt: Date;
  /** The end of offline grace: access without reaching the server ends after this instant. */
  leaseExpiresAt: Date;
  /** When the client next revalidates online. */
  refreshAfter: Date;
}

export type AccessReason = "LEASE_FRESH" | "REVALIDATION_NEEDS_KEY" | "REVALIDATED" | "OFFLINE";

/** Access is allowed: why, until when, and when to check again. */
export interface Access {
  reason: AccessReason;
  /** Call `check` again at this instant (the lease's `refresh_after`, or sooner while offline). */
  nextCheckAt: Date;
  license: License;
  /** For `OFFLINE`: the connectivity state to show as a banner (`SERVER_UNREACHABLE`, `SERVICE_UNAVAILABLE`, ...). */
  cause?: TollgateError;
}

/** The entitlement as the server described it on activation. */
export interface EntitlementInfo {
  id: string | null;
  provider: string | null;
  product: string | null;
  status: string | null;
  /** Paid through; null for perpetual licenses. */
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  /** A pending Dodo OAuth grant the customer must finish. */
  oauthUrl: string | null;
}

export interface Activation {
  license: License;
  entitlement: EntitlementInfo;
  /** The server's id for this device. */
  deviceId: string | null;
}

export interface Deactivation {
  /** Devices still activated on the license, when the server says. */
  remainingDevices: number | null;
}

interface Grant {
  lease: Lease;
  entitlement: EntitlementInfo;
  deviceId: string | null;
  serverTime: Date;
}

function keyLast4(key: string): string {
  const chars = Array.from(key);
  // never the whole key, even a very short one
  const keep = Math.min(4, Math.floor(chars.length / 2));
  return chars.slice(chars.length - keep).join("");
}

function normalizedKey(key: unknown): string {
  if (typeof key !== "string") throw new TollgateError("INVALID_LICENSE");
  const trimmed = key.trim();
  if (trimmed === "" || Buffer.byteLength(trimmed, "utf8") > MAX_KEY_BYTES || /\p{Cc}/u.test(trimmed)) {
    throw new TollgateError("INVALID_LICENSE");
  }
  return trimmed;
}

const at = (secs: number) => new Date(secs * 1000);

function licenseOf(lease: Lease, last4: string): License {
  const c = lease.claims;
  return {
    entitlementId: c.sub,
    product: lease.product,
    plan: c.plan,
    status: c.status,
    features: lease.features,
    keyLast4: last4,
    leaseIssuedAt: at(c.iat),
    leaseExpiresAt: at(c.exp),
    refreshAfter: at(c.refresh_after),
  };
}

function idText(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return null;
}

function entitlementInfo(value: unknown): EntitlementInfo {
  const v = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const text = (k: string) => (typeof v[k] === "string" ? (v[k] as string) : null);
  const end = text("current_period_end");
  const parsedEnd = end === null ? Number.NaN : Date.parse(end);
  return {
    id: idText(v.id),
    provider: text("provider"),
    product: text("product"),
    status: text("status"),
    currentPeriodEnd: Number.isNaN(parsedEnd) ? null : new Date(parsedEnd),
    cancelAtPeriodEnd: v.cancel_at_period_end === true,
    oauthUrl: text("oauth_url"),
  };
}

/** `remaining_devices` (a number) or `devices` (a list) from a deactivation answer, when present. */
function remainingDevices(text: string): number | null {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const n = value.remaining_devices;
  if (typeof n === "number" && Number.isSafeInteger(n) && n >= 0) return n;
  if (Array.isArray(n)) return n.length;
  if (Array.isArray(value.devices)) return value.devices.length;
  return null;
}

/** The server's verdicts that end access until the next successful online check. */
function denialStatus(err: TollgateError): ActivationStatus | null {
  switch (err.code) {
    case "INVALID_LICENSE":
      return "invalid_license";
    case "IN_USE_ON_ANOTHER_DEVICE":
    case "DEVICE_LIMIT_REACHED":
      return "in_use_on_another_device";
    case "LICENSE_INACTIVE":
      return "license_inactive";
    case "PAYMENT_ISSUE":
      return "payment_issue";
    case "NOT_ACTIVATED":
      return "device_not_activated";
    default:
      return null;
  }
}

function misconfigured(why: string, cause?: unknown): TollgateError {
  return new TollgateError("MISCONFIGURED", {}, { cause: cause ?? new Error(why) });
}

/** The app-side Tollgate license client. One operation at a time per instance. */
export class TollgateClient {
  readonly statePath: string;
  private readonly serverUrl: string;
  private readonly appId: string;
  private readonly keys: Map<string, KeyObject>;
  private readonly state: StateFile;
  private readonly deviceId: string | undefined;
  private readonly clock: () => number;
  private readonly purchaseUrl: string | null;
  private readonly timeoutMs: number;
  private readonly audience: string | undefined;
  private readonly deviceName: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  /** Throws a `MISCONFIGURED` {@link TollgateError} for options it cannot use. */
  constructor(options: TollgateClientOptions) {
    let url: URL;
    try {
      url = new URL(options.serverUrl);
    } catch (err) {
      throw misconfigured("the license server URL is not a URL", err);
    }
    if (!["http:", "https:"].includes(url.protocol) || typeof options.appId !== "string" || options.appId.trim() === "") {
      throw misconfigured("the license client needs an http(s) server URL and an app id");
    }
    try {
      this.keys = parseJwks(options.jwks);
    } catch (err) {
      throw misconfigured("the JWKS is not usable", err);
    }
    const statePath = options.statePath ?? defaultStatePath(options.appId);
    if (statePath === null) {
      throw new TollgateError("MISCONFIGURED", { storage: true }, { cause: new Error("no home directory") });
    }
    this.statePath = statePath;
    this.state = new StateFile(statePath);
    this.serverUrl = options.serverUrl.replace(/\/+$/, "");
    this.appId = options.appId;
    this.deviceId = options.deviceId;
    this.clock = options.clock ?? Date.now;
    this.purchaseUrl = options.purchaseUrl ?? null;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.audience = options.audience;
    this.deviceName = options.deviceName;
  }

  /** Activates this device with a license key and stores the verified lease. */
  activate(licenseKey: string): Promise<Activation> {
    return this.exclusive(async () => {
      const key = normalizedKey(licenseKey);
      const device = this.deviceHash();
      const now = new Date(this.clock());
      const body: Record<string, string> = { license_key: key, hwid: device };
      if (this.deviceName !== undefined) body.device_name = this.deviceName;
      const answer = await this.post("/api/license/activate", body, null);
      const grant = this.acceptGrant(answer.text, answer.date, device);
      const last4 = keyLast4(key);
      await this.save({
        version: STATE_VERSION,
        status: "active",
        device_hash: device,
        key_last4: last4,
        activated_at: now,
        last_online_at: now,
        last_server_time: grant.serverTime,
        lease: grant.lease.token,
      });
      return { license: licenseOf(grant.lease, last4), entitlement: grant.entitlement, deviceId: grant.deviceId };
    });
  }

  /**
   * Checks access without the license key: a fresh lease allows without network; once `refresh_after` has passed,
   * the lease still allows until its `exp` (`REVALIDATION_NEEDS_KEY`), then `OFFLINE_GRACE_EXPIRED`. Call on launch
   * and at `nextCheckAt`.
   */
  check(): Promise<Access> {
    return this.exclusive(() => this.checkInner(null));
  }

  /**
   * Like {@link check}, and once `refresh_after` has passed (or the clock went back, or the saved lease is unusable)
   * revalidates online with the key the app keeps in its own secure storage.
   */
  checkWithKey(licenseKey: string): Promise<Access> {
    return this.exclusive(() => this.checkInner(normalizedKey(licenseKey)));
  }

  /** Frees this device on the server (for moving to another computer) and clears the local state. */
  deactivate(licenseKey: string): Promise<Deactivation> {
    return this.exclusive(async () => {
      const key = normalizedKey(licenseKey);
      const device = this.deviceHash();
      let remaining: number | null = null;
      try {
        const answer = await this.post("/api/license/deactivate", { license_key: key, hwid: device }, null);
        remaining = remainingDevices(answer.text);
      } catch (err) {
        // the server already does not know this device: nothing left to free
        if (!(err instanceof TollgateError && err.code === "NOT_ACTIVATED")) throw err;
      }
      try {
        await this.state.clear();
      } catch (err) {
        throw new TollgateError("MISCONFIGURED", { storage: true }, { cause: err });
      }
      return { remainingDevices: remaining };
    });
  }

  /** The saved state as it is on disk (for a status screen); no verification, no network. */
  storedState(): Promise<StoredState | null> {
    return this.load();
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async checkInner(key: string | null): Promise<Access> {
    const nowMs = this.clock();
    const now = nowMs / 1000;
    const device = this.deviceHash();
    const state = await this.load();
    if (state === null || state.device_hash !== device) {
      // none, or made on another device or for another app id
      throw new TollgateError("NOT_ACTIVATED");
    }
    // What offline access is based on, or why there is none.
    let basis: Lease | TollgateError;
    if (state.status === "active") {
      basis = this.storedLease(state, device);
    } else {
      basis = this.denialError(state.status);
    }
    const rollback = nowMs + ROLLBACK_TOLERANCE_MS < state.last_server_time.getTime();
    if (basis instanceof Lease && !rollback && !basis.refreshDue(now) && timeOk(basis, now)) {
      return { reason: "LEASE_FRESH", nextCheckAt: at(basis.claims.refresh_after), license: licenseOf(basis, state.key_last4) };
    }
    let reason: AccessReason = "REVALIDATION_NEEDS_KEY";
    let cause: TollgateError | undefined;
    if (key !== null) {
      const keepWorkingUntil = basis instanceof Lease ? at(basis.claims.exp) : null;
      try {
        return await this.revalidate(key, device, state, keepWorkingUntil, new Date(nowMs));
      } catch (err) {
        if (!(err instanceof TollgateError) || !err.isConnectivity) throw err;
        reason = "OFFLINE";
        cause = err;
      }
    }
    if (!(basis instanceof Lease)) throw basis;
    const lease = basis;
    if (rollback || nowMs + ROLLBACK_TOLERANCE_MS < lease.notBefore * 1000) {
      throw new TollgateError("CLOCK_ROLLBACK");
    }
    if (Math.floor(now) > lease.claims.exp) {
      throw new TollgateError("OFFLINE_GRACE_EXPIRED", { expiredAt: at(lease.claims.exp) });
    }
    const access: Access = {
      reason,
      nextCheckAt: new Date(Math.min(nowMs + OFFLINE_RETRY_MS, lease.claims.exp * 1000)),
      license: licenseOf(lease, state.key_last4),
    };
    if (cause !== undefined) access.cause = cause;
    return access;
  }

  private async revalidate(
    key: string,
    device: string,
    state: StoredState,
    keepWorkingUntil: Date | null,
    now: Date,
  ): Promise<Access> {
    let grant: Grant;
    try {
      const answer = await this.post("/api/license/validate", { license_key: key, hwid: device }, keepWorkingUntil);
      grant = this.acceptGrant(answer.text, answer.date, device);
    } catch (err) {
      const status = err instanceof TollgateError ? denialStatus(err) : null;
      // a refusal is saved (the next offline launch is refused too), unless the key is not the activated one
      if (status !== null && keyLast4(key) === state.key_last4) {
        await this.save({ ...state, status, lease: null, last_online_at: now });
      }
      throw err;
    }
    const renewed: StoredState = {
      ...state,
      status: "active",
      key_last4: keyLast4(key),
      last_online_at: now,
      last_server_time: grant.serverTime > state.last_server_time ? grant.serverTime : state.last_server_time,
      lease: grant.lease.token,
    };
    await this.save(renewed);
    return {
      reason: "REVALIDATED",
      nextCheckAt: at(grant.lease.claims.refresh_after),
      license: licenseOf(grant.lease, renewed.key_last4),
    };
  }

  /**
   * The saved lease, if its signature verifies against the pinned keys, it is for the expected product and its device
   * claim is this machine's. A lease made for another machine is `NOT_ACTIVATED`; any other failure `STATE_CORRUPT`.
   */
  private storedLease(state: StoredState, device: string): Lease | TollgateError {
    if (state.lease === null) return new TollgateError("STATE_CORRUPT");
    try {
      return this.verified(state.lease, device);
    } catch (err) {
      const code = err instanceof LeaseError && err.reason === "wrong_device" ? "NOT_ACTIVATED" : "STATE_CORRUPT";
      return new TollgateError(code, {}, { cause: err });
    }
  }

  private verified(token: string, device: string): Lease {
    const lease = Lease.parse(token);
    lease.verifySignature(this.keys);
    if (this.audience !== undefined) lease.checkAudience(this.audience);
    lease.checkDevice(device);
    return lease;
  }

  private acceptGrant(text: string, date: Date | null, device: string): Grant {
    let body: { lease?: { token?: unknown }; entitlement?: unknown; device?: { id?: unknown } };
    try {
      body = JSON.parse(text) as typeof body;
    } catch (err) {
      throw new TollgateError("UNEXPECTED_RESPONSE", {}, { cause: err });
    }
    const token = body?.lease?.token;
    if (typeof token !== "string") {
      throw new TollgateError("UNEXPECTED_RESPONSE", {}, { cause: new Error("the 200 body is not the contract's") });
    }
    let lease: Lease;
    try {
      lease = this.verified(token, device);
      // Judge a fresh lease by the server's clock, so a wrong local clock cannot reject a genuine answer.
      const issued = lease.claims.iat * 1000;
      const serverTime = date === null ? issued : Math.max(date.getTime(), issued);
      lease.checkTime(serverTime / 1000);
      return {
        lease,
        entitlement: entitlementInfo(body.entitlement),
        deviceId: idText(body.device?.id),
        serverTime: new Date(serverTime),
      };
    } catch (err) {
      throw new TollgateError("UNEXPECTED_RESPONSE", {}, { cause: err });
    }
  }

  private denialError(status: ActivationStatus): TollgateError {
    const purchaseUrl = this.purchaseUrl;
    switch (status) {
      case "invalid_license":
        return new TollgateError("INVALID_LICENSE");
      case "in_use_on_another_device":
        return new TollgateError("IN_USE_ON_ANOTHER_DEVICE");
      case "license_inactive":
        return new TollgateError("LICENSE_INACTIVE", { purchaseUrl });
      case "payment_issue":
        return new TollgateError("PAYMENT_ISSUE", { purchaseUrl });
      default:
        return new TollgateError("NOT_ACTIVATED");
    }
  }

  private deviceHash(): string {
    if (this.deviceId !== undefined) return deviceHash(this.appId, this.deviceId);
    const id = machineId();
    if (id === null) {
      throw new TollgateError("MISCONFIGURED", { deviceIdUnavailable: true }, { cause: new Error("machine id unavailable") });
    }
    return deviceHash(this.appId, id);
  }

  private async load(): Promise<StoredState | null> {
    try {
      return await this.state.load();
    } catch (err) {
      if (err instanceof StateError && err.kind === "corrupt") throw new TollgateError("STATE_CORRUPT", {}, { cause: err });
      throw new TollgateError("MISCONFIGURED", { storage: true }, { cause: err });
    }
  }

  private async save(state: StoredState): Promise<void> {
    try {
      await this.state.save(state);
    } catch (err) {
      throw new TollgateError("MISCONFIGURED", { storage: true }, { cause: err });
    }
  }

  private post(path: string, body: unknown, keepWorkingUntil: Date | null) {
    return post({
      url: `${this.serverUrl}${path}`,
      body,
      timeoutMs: this.timeoutMs,
      userAgent: `tollgate-client-js/${VERSION}`,
      purchaseUrl: this.purchaseUrl,
      keepWorkingUntil,
    });
  }
}

function timeOk(lease: Lease, now: number): boolean {
  try {
    lease.checkTime(now);
    return true;
  } catch {
    return false;
  }
}
