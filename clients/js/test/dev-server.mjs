// Starts `tollgate dev --json` (the debug binary `cargo build`/`cargo test` leaves in target/debug, or TOLLGATE_BIN)
// and reads its one JSON line: the server URL, tokens, JWKS and demo keys (docs/api.md, "tollgate dev").
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export function tollgateBinary() {
  const bin = process.env.TOLLGATE_BIN ?? join(repo, "target", "debug", "tollgate");
  return existsSync(bin) ? bin : null;
}

/** Why the end-to-end tests cannot run here, or null. With TOLLGATE_REQUIRE_E2E=1 (CI) a missing binary fails. */
export function e2eSkipReason() {
  const bin = tollgateBinary();
  let why = "no tollgate binary (run `cargo build -p tollgate` first, or set TOLLGATE_BIN)";
  if (bin !== null) {
    if (spawnSync(bin, ["dev", "--help"], { stdio: "ignore" }).status === 0) return null;
    why = `${bin} has no \`dev\` command (rebuild it: \`cargo build -p tollgate\`)`;
  }
  if (process.env.TOLLGATE_REQUIRE_E2E === "1") throw new Error(`TOLLGATE_REQUIRE_E2E=1 but ${why}`);
  return why;
}

export async function startDev() {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-dev-"));
  const child = spawn(tollgateBinary(), ["dev", "--listen", "127.0.0.1:0", "--dir", join(dir, "world"), "--json"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-20_000);
  });
  const lines = createInterface({ input: child.stdout });
  const world = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tollgate dev printed no JSON line within 60 s:\n${stderr}`)), 60_000);
    child.once("exit", (code) => reject(new Error(`tollgate dev exited (${code}):\n${stderr}`)));
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line));
    });
  });
  let exited = false;
  const exit = new Promise((resolve) => child.once("exit", (code, signal) => { exited = true; resolve({ code, signal }); }));
  return {
    world,
    /** Makes a fake provider answer 503 to everything (`down: true`) or recover. */
    async outage(provider, down) {
      const res = await fetch(`${world.server_url}/dev/providers/${provider}/outage`, {
        method: "POST",
        headers: { authorization: `Bearer ${world.admin_token}`, "content-type": "application/json" },
        body: JSON.stringify({ down }),
      });
      if (res.status !== 204) throw new Error(`outage switch answered ${res.status}: ${await res.text()}`);
    },
    async stop() {
      if (!exited) child.kill("SIGTERM");
      const result = await exit;
      rmSync(dir, { recursive: true, force: true });
      return result;
    },
  };
}
