// The public keys leases are verified against: the JWKS the app ships (GET /.well-known/jwks.json on the server),
// never fetched and trusted at run time.

import { createPublicKey, type KeyObject } from "node:crypto";

import { decodeBase64Url } from "./b64.js";

/** A JWKS document: `{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": ..., "x": ...}]}`. */
export interface Jwks {
  keys: Array<Record<string, unknown>>;
}

export class InvalidKeysError extends Error {
  constructor(why: string) {
    super(`unusable public keys: ${why}`);
    this.name = "InvalidKeysError";
  }
}

function optionalString(jwk: Record<string, unknown>, field: string): string | undefined {
  const value = jwk[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new InvalidKeysError("not a JWKS document");
  return value;
}

/**
 * The Ed25519 signing keys of a JWKS (object or JSON text), by `kid`. Keys that are not Ed25519 signing keys
 * (`kty: OKP`, `crv: Ed25519`, `use` absent or `sig`, `alg` absent or `EdDSA`) are skipped; none left is an error.
 */
export function parseJwks(jwks: Jwks | string): Map<string, KeyObject> {
  let doc: unknown = jwks;
  if (typeof jwks === "string") {
    try {
      doc = JSON.parse(jwks);
    } catch {
      throw new InvalidKeysError("not a JWKS document");
    }
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (typeof doc !== "object" || doc === null || !Array.isArray(keys)) {
    throw new InvalidKeysError("not a JWKS document");
  }
  const byKid = new Map<string, KeyObject>();
  for (const entry of keys) {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new InvalidKeysError("not a JWKS document");
    }
    const jwk = entry as Record<string, unknown>;
    const [kty, crv, x, kid, alg, use] = ["kty", "crv", "x", "kid", "alg", "use"].map((f) => optionalString(jwk, f));
    if (kty !== "OKP" || crv !== "Ed25519" || (use !== undefined && use !== "sig") || (alg !== undefined && alg !== "EdDSA")) {
      continue;
    }
    if (kid === undefined || x === undefined) throw new InvalidKeysError("an Ed25519 key without kid or x");
    const raw = decodeBase64Url(x);
    if (raw === null) throw new InvalidKeysError("x is not base64url");
    if (raw.length !== 32) throw new InvalidKeysError("x is not a 32-byte Ed25519 key");
    byKid.set(kid, createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" }));
  }
  if (byKid.size === 0) throw new InvalidKeysError("no Ed25519 signing key");
  return byKid;
}
