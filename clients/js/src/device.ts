// The device id: this machine's id, hashed with the app id before it leaves the machine, exactly as the Rust client
// does (crates/client/src/device.rs), so the same app on the same machine sends the same hwid from any language.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

const DOMAIN = "tollgate-client/device/v1";

/**
 * The device hash: lowercase hex SHA-256 over the parts `"tollgate-client/device/v1"`, `appId` and `machineId`, each
 * preceded by its UTF-8 byte length as an unsigned 64-bit big-endian integer.
 */
export function deviceHash(appId: string, machineId: string): string {
  const hash = createHash("sha256");
  for (const part of [DOMAIN, appId, machineId]) {
    const bytes = Buffer.from(part, "utf8");
    const length = Buffer.alloc(8);
    length.writeBigUInt64BE(BigInt(bytes.length));
    hash.update(length);
    hash.update(bytes);
  }
  return hash.digest("hex");
}

function readTrimmed(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}

/**
 * This machine's id, from the same sources as the Rust client's `machine-uid` crate: `/var/lib/dbus/machine-id` or
 * `/etc/machine-id` (Linux), `IOPlatformUUID` (macOS), `MachineGuid` (Windows), `/etc/hostid` or the SMBIOS UUID
 * (BSD). `null` when it cannot be read.
 */
export function machineId(): string | null {
  const run = (file: string, args: string[]) => {
    try {
      return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5000 });
    } catch {
      return "";
    }
  };
  let id: string | null = null;
  switch (process.platform) {
    case "linux":
      id = readTrimmed("/var/lib/dbus/machine-id") ?? readTrimmed("/etc/machine-id");
      break;
    case "darwin":
      id = /"IOPlatformUUID" = "([^"]+)"/.exec(run("ioreg", ["-rd1", "-c", "IOPlatformExpertDevice"]))?.[1] ?? null;
      break;
    case "win32": {
      // the 64-bit registry view, also from a 32-bit process
      const out = run("reg", ["query", "HKLM\\SOFTWARE\\Microsoft\\Cryptography", "/v", "MachineGuid", "/reg:64"]);
      id = /MachineGuid\s+REG_SZ\s+(\S+)/.exec(out)?.[1] ?? null;
      break;
    }
    case "freebsd":
    case "openbsd":
    case "netbsd":
      id = readTrimmed("/etc/hostid") ?? run("kenv", ["-q", "smbios.system.uuid"]).trim();
      break;
  }
  return id && id.trim() !== "" ? id.trim() : null;
}
