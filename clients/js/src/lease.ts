// The lease token: a compact JWS (`alg: EdDSA`, `kid` in the header) signed by Tollgate, parsed exactly as the Rust
// client parses it (crates/client/src/lease.rs). Parsing never throws anything but a LeaseError.
//
// Validity rule, shared with the server: a lease is valid while `nbf <= now <= exp` in whole Unix seconds, so a lease
// with `exp = T` is still valid at exactly `T` and expired one second later.

import { createHash, verify, type KeyObject } from "node:crypto";

import { decodeBase64Url } from "./b64.js";

/** The longest token accepted, in bytes (a real lease is well under 1 KiB). */
export const MAX_TOKEN_LEN = 16 * 1024;
/** Times further than this from 1970 (in seconds) are refused as malformed. */
const MAX_ABS_SECS = 8_210_000_000_000;

export type LeaseFailure =
  | "malformed"
  | "unsupported_algorithm"
  | "unknown_kid"
  | "bad_signature"
  | "not_yet_valid"
  | "expired"
  | "wrong_audience"
  | "wrong_device";

/** Why a lease token was rejected: detail for logs and tooling (the app shows a TollgateError instead). */
export class LeaseError extends Error {
  readonly reason: LeaseFailure;
  constructor(reason: LeaseFailure, detail: string) {
    super(`${reason.replace(/_/g, " ")}: ${detail}`);
    this.name = "LeaseError";
    this.reason = reason;
  }
}

/** The device claim: a random salt and `SHA-256(salt ‖ device hash)`, both base64url without padding. */
export interface DeviceClaim {
  salt: string;
  sha256: string;
}

export interface LeaseClaims {
  iss: string | null;
  sub: string;
  aud: string | string[];
  iat: number;
  nbf: number | null;
  exp: number;
  refresh_after: number;
  hwid: string;
  plan: string | null;
  status: string | null;
  features: unknown;
  dev: DeviceClaim | null;
}

const malformed = (why: string) => new LeaseError("malformed", why);

function segmentJson(segment: string, what: string): unknown {
  if (segment === "") throw malformed(what);
  const bytes = decodeBase64Url(segment);
  if (bytes === null) throw malformed(what);
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `value` as an optional string: absent or null is null; anything but a string is malformed. */
function optString(value: unknown, why: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw malformed(why);
  return value;
}

function int(value: unknown, why: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw malformed(why);
  return value;
}

function parseClaims(value: unknown): LeaseClaims {
  const bad = "claims are not a lease";
  if (!isObject(value)) throw malformed(bad);
  const str = (v: unknown) => {
    if (typeof v !== "string") throw malformed(bad);
    return v;
  };
  const aud = value.aud;
  if (!(typeof aud === "string" || (Array.isArray(aud) && aud.every((a) => typeof a === "string")))) {
    throw malformed(bad);
  }
  let dev: DeviceClaim | null = null;
  if (value.dev !== undefined && value.dev !== null) {
    if (!isObject(value.dev)) throw malformed(bad);
    dev = { salt: str(value.dev.salt), sha256: str(value.dev.sha256) };
  }
  const nbf = value.nbf === undefined || value.nbf === null ? null : int(value.nbf, bad);
  return {
    iss: optString(value.iss, bad),
    sub: str(value.sub),
    aud: aud as string | string[],
    iat: int(value.iat, bad),
    nbf,
    exp: int(value.exp, bad),
    refresh_after: int(value.refresh_after, bad),
    hwid: str(value.hwid),
    plan: optString(value.plan, bad),
    status: optString(value.status, bad),
    features: value.features ?? null,
    dev,
  };
}

function inRange(secs: number, why: string): number {
  if (Math.abs(secs) > MAX_ABS_SECS) throw malformed(why);
  return secs;
}

/** A parsed (not yet verified) lease. */
export class Lease {
  readonly token: string;
  readonly kid: string;
  readonly claims: LeaseClaims;
  private readonly signingInput: string;
  private readonly signature: Buffer;

  private constructor(token: string, kid: string, claims: LeaseClaims, signingInput: string, signature: Buffer) {
    this.token = token;
    this.kid = kid;
    this.claims = claims;
    this.signingInput = signingInput;
    this.signature = signature;
  }

  /**
   * Parses a compact JWS: three base64url segments, a header with `alg: EdDSA` and a `kid` (and no `crit`), the claims
   * a lease needs, a 64-byte signature. Checks neither the signature nor the time.
   */
  static parse(token: string): Lease {
    if (typeof token !== "string" || Buffer.byteLength(token, "utf8") > MAX_TOKEN_LEN) {
      throw malformed("token too long");
    }
    const parts = token.split(".");
    if (parts.length !== 3) throw malformed("not three dot-separated segments");
    const [headerB64, claimsB64, signatureB64] = parts as [string, string, string];
    const header = segmentJson(headerB64, "header is not base64url");
    if (!isObject(header) || typeof header.alg !== "string") throw malformed("header is not a JSON object");
    const kidValue = optString(header.kid, "header is not a JSON object");
    if (header.alg !== "EdDSA") {
      throw new LeaseError("unsupported_algorithm", `unsupported lease algorithm ${JSON.stringify(header.alg)}`);
    }
    if (header.crit !== undefined && header.crit !== null) {
      throw malformed("critical header extensions are not supported");
    }
    if (kidValue === null) throw malformed("lease header has no kid");
    const claims = parseClaims(segmentJson(claimsB64, "claims are not base64url"));
    if (signatureB64 === "") throw malformed("signature is not base64url");
    const signature = decodeBase64Url(signatureB64);
    if (signature === null) throw malformed("signature is not base64url");
    if (signature.length !== 64) throw malformed("signature is not 64 bytes");
    inRange(claims.iat, "iat out of range");
    inRange(claims.nbf ?? claims.iat, "nbf out of range");
    inRange(claims.exp, "exp out of range");
    inRange(claims.refresh_after, "refresh_after out of range");
    return new Lease(token, kidValue, claims, `${headerB64}.${claimsB64}`, signature);
  }

  /** Checks the Ed25519 signature against the pinned key named by `kid`. */
  verifySignature(keys: Map<string, KeyObject>): void {
    const key = keys.get(this.kid);
    if (key === undefined) throw new LeaseError("unknown_kid", `lease signed with unknown key ${JSON.stringify(this.kid)}`);
    let ok = false;
    try {
      ok = verify(null, Buffer.from(this.signingInput, "utf8"), key, this.signature);
    } catch {
      ok = false;
    }
    if (!ok) throw new LeaseError("bad_signature", "lease signature does not verify");
  }

  /** Refuses a lease for another product. */
  checkAudience(audience: string): void {
    const aud = this.claims.aud;
    const ok = typeof aud === "string" ? aud === audience : aud.includes(audience);
    if (!ok) throw new LeaseError("wrong_audience", "lease is for another product");
  }

  /**
   * Checks the device claim against this machine's device hash. A lease without the claim (signed by a server older
   * than the claim) passes: the state file's device hash is then the only binding, until it expires.
   */
  checkDevice(deviceHashHex: string): void {
    const dev = this.claims.dev;
    if (dev === null) return;
    const salt = dev.salt === "" ? null : decodeBase64Url(dev.salt);
    if (salt === null) throw malformed("dev.salt is not base64url");
    const want = dev.sha256 === "" ? null : decodeBase64Url(dev.sha256);
    if (want === null) throw malformed("dev.sha256 is not base64url");
    if (want.length !== 32) throw malformed("dev.sha256 is not 32 bytes");
    const got = createHash("sha256").update(salt).update(Buffer.from(deviceHashHex, "utf8")).digest();
    if (!got.equals(want)) throw new LeaseError("wrong_device", "lease is for another device");
  }

  /** Checks `nbf <= now <= exp` in whole Unix seconds (`nowSecs` may have a fraction; it is floored). */
  checkTime(nowSecs: number): void {
    const now = Math.floor(nowSecs);
    if (now < this.notBefore) throw new LeaseError("not_yet_valid", "lease is not valid yet");
    if (now > this.claims.exp) throw new LeaseError("expired", "lease has expired");
  }

  /** Whether revalidation is due: `now >= refresh_after`, in whole Unix seconds. */
  refreshDue(nowSecs: number): boolean {
    return Math.floor(nowSecs) >= this.claims.refresh_after;
  }

  get notBefore(): number {
    return this.claims.nbf ?? this.claims.iat;
  }

  /** `features` as strings, when the claim is a list (non-strings skipped). */
  get features(): string[] {
    const f = this.claims.features;
    return Array.isArray(f) ? f.filter((x): x is string => typeof x === "string") : [];
  }

  /** The first (usually only) audience, for display. */
  get product(): string {
    const aud = this.claims.aud;
    return typeof aud === "string" ? aud : (aud[0] ?? "");
  }
}

/** Options for {@link verifyLease}. */
export interface VerifyOptions {
  /** Epoch seconds. */
  now: number;
  /** This machine's device hash ({@link deviceHash}); the lease's device claim must match it. */
  deviceHash: string;
  /** The product id `aud` must contain, if any. */
  audience?: string;
}

/** Parse, signature, audience, device claim and time in one call; throws a {@link LeaseError}. */
export function verifyLease(token: string, keys: Map<string, KeyObject>, options: VerifyOptions): Lease {
  const lease = Lease.parse(token);
  lease.verifySignature(keys);
  if (options.audience !== undefined) lease.checkAudience(options.audience);
  lease.checkDevice(options.deviceHash);
  lease.checkTime(options.now);
  return lease;
}
