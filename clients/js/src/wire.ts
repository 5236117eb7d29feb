// The HTTP contract of the app-facing API (docs/clients.md, "Endpoints"): one POST, the server's `Date`, and the
// mapping from the server's stable codes to the user-safe codes.

import { TollgateError } from "./errors.js";

export interface MapContext {
  purchaseUrl: string | null;
  retryAfterSeconds: number | null;
  /** The current lease's `exp`, when there is one: how long the person may keep working. */
  keepWorkingUntil: Date | null;
}

/** Maps a non-2xx answer to a user-safe error. `code` is null when the body was not the contract's error body. */
export function mapError(status: number, code: string | null, ctx: MapContext): TollgateError {
  const purchaseUrl = ctx.purchaseUrl;
  const retryAfterSeconds = ctx.retryAfterSeconds;
  const keepWorkingUntil = ctx.keepWorkingUntil;
  switch (code) {
    case "LICENSE_NOT_FOUND":
    case "INVALID_REQUEST":
      return new TollgateError("INVALID_LICENSE");
    case "DEVICE_MISMATCH":
      return new TollgateError("IN_USE_ON_ANOTHER_DEVICE");
    case "DEVICE_LIMIT_REACHED":
      return new TollgateError("DEVICE_LIMIT_REACHED");
    case "LICENSE_INACTIVE":
      return new TollgateError("LICENSE_INACTIVE", { purchaseUrl });
    case "PAYMENT_ISSUE":
      return new TollgateError("PAYMENT_ISSUE", { purchaseUrl });
    case "DEVICE_NOT_ACTIVATED":
      return new TollgateError("NOT_ACTIVATED");
    case "RATE_LIMITED":
      return new TollgateError("RATE_LIMITED", { retryAfterSeconds });
    case "TRANSFER_NOT_ALLOWED":
      return new TollgateError("TRANSFER_NOT_ALLOWED");
    case "TRANSFER_COOLDOWN":
      return new TollgateError("TRANSFER_COOLDOWN", { retryAfterSeconds });
    case "PROVIDER_UNAVAILABLE":
    case "STORAGE_UNAVAILABLE":
      return new TollgateError("SERVICE_UNAVAILABLE", { keepWorkingUntil });
  }
  if (status === 429) return new TollgateError("RATE_LIMITED", { retryAfterSeconds });
  if (status >= 500) return new TollgateError("SERVICE_UNAVAILABLE", { keepWorkingUntil });
  return new TollgateError("UNEXPECTED_RESPONSE");
}

export interface Answer {
  text: string;
  /** The server's `Date` header, when it sent a valid one. */
  date: Date | null;
}

export interface PostOptions {
  url: string;
  body: unknown;
  timeoutMs: number;
  userAgent: string;
  purchaseUrl: string | null;
  keepWorkingUntil: Date | null;
}

/** One POST; a 2xx gives the body and the server's `Date`, anything else a user-safe error (the cause attached). */
export async function post(options: PostOptions): Promise<Answer> {
  const unreachable = (cause: unknown) =>
    new TollgateError("SERVER_UNREACHABLE", { keepWorkingUntil: options.keepWorkingUntil }, { cause });
  let response: Response;
  try {
    response = await fetch(options.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", "user-agent": options.userAgent },
      body: JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: "follow",
    });
  } catch (err) {
    throw unreachable(err);
  }
  let text: string;
  try {
    text = await response.text();
  } catch (err) {
    throw unreachable(err);
  }
  const dateHeader = response.headers.get("date");
  const parsed = dateHeader === null ? Number.NaN : Date.parse(dateHeader);
  const date = Number.isNaN(parsed) ? null : new Date(parsed);
  if (response.status >= 200 && response.status < 300) return { text, date };
  let code: string | null = null;
  try {
    const body = JSON.parse(text) as { code?: unknown };
    code = typeof body?.code === "string" ? body.code : null;
  } catch {
    code = null;
  }
  const retryAfter = response.headers.get("retry-after")?.trim() ?? "";
  const retryAfterSeconds = /^\d+$/.test(retryAfter) ? Number(retryAfter) : null;
  const error = mapError(response.status, code, {
    purchaseUrl: options.purchaseUrl,
    retryAfterSeconds: retryAfterSeconds !== null && Number.isSafeInteger(retryAfterSeconds) ? retryAfterSeconds : null,
    keepWorkingUntil: options.keepWorkingUntil,
  });
  Object.defineProperty(error, "cause", {
    value: { status: response.status, code },
    enumerable: false,
  });
  throw error;
}
