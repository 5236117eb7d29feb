// The user-safe states an app shows: a stable code, a sentence for a person and an action. The texts are the Rust
// client's (crates/client/src/error.rs), checked by the conformance vectors, so every Tollgate client says the same.

/** Every code a {@link TollgateError} can carry (the same strings in the Rust and Python clients). */
export const ERROR_CODES = [
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
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export type ActionKind =
  | "ENTER_KEY"
  | "DEACTIVATE_ELSEWHERE"
  | "RENEW"
  | "UPDATE_PAYMENT"
  | "RETRY_LATER"
  | "CHECK_CONNECTION"
  | "FIX_CLOCK"
  | "CONTACT_SUPPORT";

/** What the app should offer the person next: a button or a prompt. */
export interface Action {
  kind: ActionKind;
  /** A short label for a button, e.g. "Renew at https://shop.example/renew". */
  label: string;
  /** For `RENEW` and `UPDATE_PAYMENT`: where, when the app configured a `purchaseUrl`. */
  url?: string;
  /** For `RETRY_LATER`: how long to wait, when the server said. */
  retryAfterSeconds?: number;
}

/** Details some codes carry. */
export interface ErrorDetails {
  purchaseUrl?: string | null;
  retryAfterSeconds?: number | null;
  /** `SERVER_UNREACHABLE` / `SERVICE_UNAVAILABLE`: the current lease's `exp`, when there is one. */
  keepWorkingUntil?: Date | null;
  /** `OFFLINE_GRACE_EXPIRED`: the lease's `exp`. */
  expiredAt?: Date;
  /** `MISCONFIGURED` because the state file cannot be written or read. */
  storage?: boolean;
  /** `MISCONFIGURED` because this machine's id cannot be read. */
  deviceIdUnavailable?: boolean;
}

const MONTHS = [
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
];

/** How dates are written in messages: "31 May 2026, 20:26 UTC" (the client has no time zone database). */
export function humanDate(at: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${at.getUTCDate()} ${MONTHS[at.getUTCMonth()]} ${at.getUTCFullYear()}, ${pad(at.getUTCHours())}:${pad(
    at.getUTCMinutes(),
  )} UTC`;
}

export function humanWait(secs: number): string {
  if (secs === 1) return "1 second";
  if (secs <= 90) return `${secs} seconds`;
  if (secs <= 5400) return `${Math.ceil(secs / 60)} minutes`;
  return `${Math.ceil(secs / 3600)} hours`;
}

function message(code: ErrorCode, d: ErrorDetails): string {
  switch (code) {
    case "INVALID_LICENSE":
      return "This license key is not valid. Check that you entered it exactly as in your purchase email.";
    case "IN_USE_ON_ANOTHER_DEVICE":
      return "This license key is already in use on another computer. Deactivate it there, or contact support.";
    case "DEVICE_LIMIT_REACHED":
      return "This license key is already activated on as many computers as it allows. Deactivate it on one of them, or contact support.";
    case "LICENSE_INACTIVE":
      return d.purchaseUrl
        ? `Your license is no longer active. Renew at ${d.purchaseUrl}.`
        : "Your license is no longer active. Renew it from your account, or contact support.";
    case "PAYMENT_ISSUE":
      return d.purchaseUrl
        ? `There is a problem with your latest payment. Update your payment method at ${d.purchaseUrl}, then try again.`
        : "There is a problem with your latest payment. Update your payment method with the store, then try again.";
    case "RATE_LIMITED":
      return d.retryAfterSeconds != null
        ? `Too many attempts. Wait ${humanWait(d.retryAfterSeconds)} and try again.`
        : "Too many attempts. Wait a few minutes and try again.";
    case "SERVER_UNREACHABLE":
      return d.keepWorkingUntil
        ? `The license server could not be reached. Check your connection; you can keep working until ${humanDate(
            d.keepWorkingUntil,
          )}.`
        : "The license server could not be reached. Check your connection and try again.";
    case "SERVICE_UNAVAILABLE":
      return d.keepWorkingUntil
        ? `The license service is temporarily unavailable. Try again in a few minutes; you can keep working until ${humanDate(
            d.keepWorkingUntil,
          )}.`
        : "The license service is temporarily unavailable. Try again in a few minutes.";
    case "OFFLINE_GRACE_EXPIRED":
      return `Your license needed to be checked online by ${humanDate(
        d.expiredAt ?? new Date(0),
      )}. Connect to the internet so it can be checked.`;
    case "CLOCK_ROLLBACK":
      return "This computer's clock is set earlier than when your license was last checked. Set the correct date and time, or connect to the internet so it can be checked again.";
    case "NOT_ACTIVATED":
      return "This computer is not activated. Enter your license key to activate it.";
    case "TRANSFER_NOT_ALLOWED":
      return "This license cannot be moved to another computer from the app. Contact support to move it.";
    case "TRANSFER_COOLDOWN":
      return d.retryAfterSeconds != null
        ? `This license was moved recently. You can move it again in ${humanWait(d.retryAfterSeconds)}.`
        : "This license was moved recently. Try again later, or contact support.";
    case "STATE_CORRUPT":
      return "The license information saved on this computer is damaged or was changed. Enter your license key to activate again.";
    case "UNEXPECTED_RESPONSE":
      return "The license server sent an answer this app could not use. Make sure the app is up to date, or contact support.";
    case "MISCONFIGURED":
      if (d.storage) {
        return "This app could not save its license information. Check that your disk is not full and that your user folder is writable.";
      }
      if (d.deviceIdUnavailable) {
        return "This computer's id could not be read, so a license cannot be bound to it. Contact support.";
      }
      return "This app is not set up correctly to check licenses. Contact support.";
  }
}

function action(code: ErrorCode, d: ErrorDetails): Action {
  switch (code) {
    case "INVALID_LICENSE":
    case "NOT_ACTIVATED":
    case "STATE_CORRUPT":
      return { kind: "ENTER_KEY", label: "Enter license key" };
    case "IN_USE_ON_ANOTHER_DEVICE":
    case "DEVICE_LIMIT_REACHED":
      return { kind: "DEACTIVATE_ELSEWHERE", label: "Deactivate on the other computer" };
    case "LICENSE_INACTIVE":
      return d.purchaseUrl
        ? { kind: "RENEW", label: `Renew at ${d.purchaseUrl}`, url: d.purchaseUrl }
        : { kind: "RENEW", label: "Renew your license" };
    case "PAYMENT_ISSUE":
      return d.purchaseUrl
        ? { kind: "UPDATE_PAYMENT", label: `Update payment at ${d.purchaseUrl}`, url: d.purchaseUrl }
        : { kind: "UPDATE_PAYMENT", label: "Update your payment method" };
    case "RATE_LIMITED":
    case "TRANSFER_COOLDOWN":
      return d.retryAfterSeconds != null
        ? {
            kind: "RETRY_LATER",
            label: `Try again in ${humanWait(d.retryAfterSeconds)}`,
            retryAfterSeconds: d.retryAfterSeconds,
          }
        : { kind: "RETRY_LATER", label: "Try again later" };
    case "SERVICE_UNAVAILABLE":
      return { kind: "RETRY_LATER", label: "Try again later" };
    case "SERVER_UNREACHABLE":
    case "OFFLINE_GRACE_EXPIRED":
      return { kind: "CHECK_CONNECTION", label: "Check your internet connection" };
    case "CLOCK_ROLLBACK":
      return { kind: "FIX_CLOCK", label: "Set the correct date and time" };
    case "TRANSFER_NOT_ALLOWED":
    case "UNEXPECTED_RESPONSE":
    case "MISCONFIGURED":
      return { kind: "CONTACT_SUPPORT", label: "Contact support" };
  }
}

/**
 * Why a license operation did not give access. Show `.message` and offer `.action`; switch on `.code`. Raw HTTP,
 * JSON and file errors never reach here: they are the `cause` (for logs), never the message.
 */
export class TollgateError extends Error {
  readonly code: ErrorCode;
  readonly action: Action;
  readonly purchaseUrl: string | null;
  readonly retryAfterSeconds: number | null;
  readonly keepWorkingUntil: Date | null;
  readonly expiredAt: Date | null;

  constructor(code: ErrorCode, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message(code, details), options);
    this.name = "TollgateError";
    this.code = code;
    this.action = action(code, details);
    this.purchaseUrl = details.purchaseUrl ?? null;
    this.retryAfterSeconds = details.retryAfterSeconds ?? null;
    this.keepWorkingUntil = details.keepWorkingUntil ?? null;
    this.expiredAt = details.expiredAt ?? null;
  }

  /** A transient failure to reach a usable server (offline grace applies), not the server's verdict. */
  get isConnectivity(): boolean {
    return (
      this.code === "SERVER_UNREACHABLE" ||
      this.code === "SERVICE_UNAVAILABLE" ||
      this.code === "RATE_LIMITED" ||
      this.code === "UNEXPECTED_RESPONSE"
    );
  }
}
