// Strict base64url without padding, as the Rust client reads it: only the URL-safe alphabet, no `=`, and canonical
// (the unused low bits of the last character are zero). Node's own decoder skips bad characters, which would let a
// changed token decode to the same bytes.

const ALPHABET = /^[A-Za-z0-9_-]*$/;

export function decodeBase64Url(text: string): Buffer | null {
  if (!ALPHABET.test(text) || text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, "base64url");
  return bytes.toString("base64url") === text ? bytes : null;
}

export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}
