// The state file: the activation status, timestamps, the lease token, the device hash and the last 4 characters of
// the key. Never the full license key. The same format and default place as the Rust client's
// (crates/client/src/state.rs), written atomically (a temporary file in the same directory, fsync, rename, fsync of
// the directory) with mode 0600 in a 0700 directory.

import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/** The file name inside the platform config directory. */
export const STATE_FILE_NAME = "tollgate-license.json";
const MAX_STATE_BYTES = 64 * 1024;
export const STATE_VERSION = 1;

export type ActivationStatus =
  | "active"
  | "invalid_license"
  | "in_use_on_another_device"
  | "license_inactive"
  | "payment_issue"
  | "device_not_activated";

const STATUSES: readonly string[] = [
  "active",
  "invalid_license",
  "in_use_on_another_device",
  "license_inactive",
  "payment_issue",
  "device_not_activated",
];

/** What is kept on disk between launches (times as `Date`). */
export interface StoredState {
  version: number;
  status: ActivationStatus;
  /** The device hash this state was made on: a file copied from another machine is refused. */
  device_hash: string;
  /** For display ("license ending in 7F3A"). */
  key_last4: string;
  activated_at: Date;
  /** The last successful online activation or revalidation (local clock). */
  last_online_at: Date;
  /** The latest verified server time seen (lease `iat`, HTTP `Date`): the clock-rollback floor. */
  last_server_time: Date;
  /** The signed lease; null once the server denied access. */
  lease: string | null;
}

const FIELDS = [
  "version",
  "status",
  "device_hash",
  "key_last4",
  "activated_at",
  "last_online_at",
  "last_server_time",
  "lease",
];

/** Why the state could not be read or written. */
export class StateError extends Error {
  readonly kind: "corrupt" | "storage";
  constructor(kind: "corrupt" | "storage", detail: string, options?: { cause?: unknown }) {
    super(detail, options);
    this.name = "StateError";
    this.kind = kind;
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function time(value: unknown): Date {
  if (typeof value !== "string" || !RFC3339.test(value)) throw new StateError("corrupt", "a time is not RFC 3339");
  const at = new Date(value.replace(" ", "T"));
  if (Number.isNaN(at.getTime())) throw new StateError("corrupt", "a time is not RFC 3339");
  return at;
}

function parse(bytes: Buffer): StoredState {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new StateError("corrupt", "license state file is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StateError("corrupt", "license state file is not an object");
  }
  const v = value as Record<string, unknown>;
  const unknown = Object.keys(v).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0) throw new StateError("corrupt", `license state file has unknown fields: ${unknown.join(", ")}`);
  const str = (x: unknown) => {
    if (typeof x !== "string") throw new StateError("corrupt", "license state file has a field of the wrong type");
    return x;
  };
  if (typeof v.version !== "number" || !Number.isInteger(v.version) || v.version < 0) {
    throw new StateError("corrupt", "license state file has no version");
  }
  if (typeof v.status !== "string" || !STATUSES.includes(v.status)) {
    throw new StateError("corrupt", "license state file has an unknown status");
  }
  const state: StoredState = {
    version: v.version,
    status: v.status as ActivationStatus,
    device_hash: str(v.device_hash),
    key_last4: str(v.key_last4),
    activated_at: time(v.activated_at),
    last_online_at: time(v.last_online_at),
    last_server_time: time(v.last_server_time),
    lease: v.lease === undefined || v.lease === null ? null : str(v.lease),
  };
  if (state.version !== STATE_VERSION) throw new StateError("corrupt", "license state file has an unknown version");
  return state;
}

/**
 * The platform config dir for the app id, as the Rust client's `directories` crate names it:
 * `$XDG_CONFIG_HOME/<app id, lower-cased, without spaces>/` or `~/.config/...` on Linux,
 * `~/Library/Application Support/<app id>/` on macOS, `%APPDATA%\<app id>\config\` on Windows.
 */
export function defaultStatePath(appId: string): string | null {
  const home = homedir();
  switch (process.platform) {
    case "darwin":
      return home ? join(home, "Library", "Application Support", appId.replace(/ /g, "-"), STATE_FILE_NAME) : null;
    case "win32": {
      const appData = process.env.APPDATA;
      return appData ? join(appData, appId, "config", STATE_FILE_NAME) : null;
    }
    default: {
      const xdg = process.env.XDG_CONFIG_HOME;
      const base = xdg && xdg.startsWith("/") ? xdg : home ? join(home, ".config") : null;
      return base ? join(base, appId.split(/\s+/).filter(Boolean).join("").toLowerCase(), STATE_FILE_NAME) : null;
    }
  }
}

export class StateFile {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  /** The state, null when there is none; throws a StateError (corrupt or storage). */
  async load(): Promise<StoredState | null> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.path, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new StateError("storage", "cannot open the license state file", { cause: err });
    }
    let bytes: Buffer;
    try {
      const buffer = Buffer.alloc(MAX_STATE_BYTES + 1);
      let length = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
        if (bytesRead === 0) break;
        length += bytesRead;
        if (length > MAX_STATE_BYTES) throw new StateError("corrupt", "license state file is too large");
      }
      bytes = buffer.subarray(0, length);
    } catch (err) {
      if (err instanceof StateError) throw err;
      throw new StateError("storage", "cannot read the license state file", { cause: err });
    } finally {
      await handle.close();
    }
    return parse(bytes);
  }

  /** Replaces the state atomically: a reader sees the old file or the new one, never a mix. */
  async save(state: StoredState): Promise<void> {
    const dir = dirname(this.path);
    const tmp = join(dir, `.tollgate-license.${randomBytes(6).toString("hex")}.tmp`);
    const text = JSON.stringify(
      {
        version: state.version,
        status: state.status,
        device_hash: state.device_hash,
        key_last4: state.key_last4,
        activated_at: state.activated_at.toISOString(),
        last_online_at: state.last_online_at.toISOString(),
        last_server_time: state.last_server_time.toISOString(),
        lease: state.lease,
      },
      null,
      2,
    );
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const handle = await fs.open(tmp, "wx", 0o600);
      try {
        await handle.writeFile(text, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, this.path);
      await syncDir(dir);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw new StateError("storage", "cannot save the license state file", { cause: err });
    }
  }

  /** Removes the state (after a deactivation). Missing is fine. */
  async clear(): Promise<void> {
    try {
      await fs.rm(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw new StateError("storage", "cannot remove the license state file", { cause: err });
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  if (process.platform === "win32") return;
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
