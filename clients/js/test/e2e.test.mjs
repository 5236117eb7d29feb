// End to end against a real `tollgate dev` (fake Whop, Dodo and Aghanim on loopback): activate, check offline,
// revalidate, a second device refused, deactivate and move, provider down, server down.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { TollgateClient } from "../dist/esm/index.js";
import { closedPortUrl } from "./helpers.mjs";
import { e2eSkipReason, startDev } from "./dev-server.mjs";

const skip = e2eSkipReason();
const HOUR = 3600_000;
const APP = "com.example.e2e-js";

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("expected a TollgateError");
}

describe("against tollgate dev", { skip: skip ?? false }, () => {
  let dev;
  let dir;
  before(async () => {
    dev = await startDev();
    dir = mkdtempSync(join(tmpdir(), "tollgate-e2e-js-"));
  });
  after(async () => {
    await dev?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (machine, { clock, serverUrl } = {}) =>
    new TollgateClient({
      serverUrl: serverUrl ?? dev.world.server_url,
      appId: APP,
      jwks: dev.world.jwks,
      statePath: join(dir, machine, "license.json"),
      deviceId: machine,
      purchaseUrl: "https://shop.example/renew",
      ...(clock ? { clock } : {}),
    });

  test("activate, check offline, revalidate", async () => {
    const key = dev.world.keys.active;
    const a = client("machine-a");
    const activation = await a.activate(key);
    assert.equal(activation.license.keyLast4, key.slice(-4));
    assert.ok(activation.license.leaseExpiresAt > activation.license.refreshAfter);
    const state = readFileSync(a.statePath, "utf8");
    assert.ok(!state.includes(key), "the state file holds no license key");
    assert.ok(!state.includes("machine-a"), "nor the raw machine id");
    assert.equal(statSync(a.statePath).mode & 0o777, 0o600);

    // offline: the same state against a closed port
    const offline = client("machine-a", { serverUrl: await closedPortUrl() });
    assert.equal((await offline.check()).reason, "LEASE_FRESH");
    assert.equal((await offline.checkWithKey(key)).reason, "LEASE_FRESH");

    // a day later: due; offline it is OFFLINE with the server unreachable, online it revalidates
    const later = () => Date.now() + 25 * HOUR;
    const due = client("machine-a", { clock: later, serverUrl: await closedPortUrl() });
    const off = await due.checkWithKey(key);
    assert.equal(off.reason, "OFFLINE");
    assert.equal(off.cause.code, "SERVER_UNREACHABLE");
    assert.equal((await due.check()).reason, "REVALIDATION_NEEDS_KEY");
    const revalidated = await client("machine-a", { clock: later }).checkWithKey(key);
    assert.equal(revalidated.reason, "REVALIDATED");

    // frees its slot (the license allows two devices) and forgets the activation
    assert.equal((await a.deactivate(key)).remainingDevices, 0);
    assert.equal((await rejection(a.check())).code, "NOT_ACTIVATED");
  });

  test("a second device is refused on a node-locked license, until the first deactivates", async () => {
    const key = dev.world.keys.node_locked;
    const first = client("locked-a");
    const second = client("locked-b");
    await first.activate(key);
    const refused = await rejection(second.activate(key));
    assert.equal(refused.code, "IN_USE_ON_ANOTHER_DEVICE");
    assert.equal(refused.action.kind, "DEACTIVATE_ELSEWHERE");

    const done = await first.deactivate(key);
    assert.equal(done.remainingDevices, 0);
    assert.equal((await rejection(first.check())).code, "NOT_ACTIVATED");
    await second.activate(key);
    assert.equal((await second.check()).reason, "LEASE_FRESH");
  });

  test("a canceled license and an unknown key", async () => {
    const inactive = await rejection(client("c").activate(dev.world.keys.canceled));
    assert.equal(inactive.code, "LICENSE_INACTIVE");
    assert.equal(inactive.message, "Your license is no longer active. Renew at https://shop.example/renew.");
    assert.equal((await rejection(client("c").activate("TGDEV-NOPE-0000-0000"))).code, "INVALID_LICENSE");
  });

  test("provider down: activation says the service is unavailable, revalidation still answers", async () => {
    const key = dev.world.keys.active;
    const a = client("outage-a");
    await a.activate(key);
    await dev.outage("whop", true);
    try {
      const err = await rejection(client("outage-b").activate(key));
      assert.equal(err.code, "SERVICE_UNAVAILABLE");
      assert.match(err.message, /temporarily unavailable/);
      const again = await client("outage-a", { clock: () => Date.now() + 25 * HOUR }).checkWithKey(key);
      assert.ok(["REVALIDATED", "OFFLINE"].includes(again.reason), again.reason);
      if (again.reason === "OFFLINE") assert.equal(again.cause.code, "SERVICE_UNAVAILABLE");
    } finally {
      await dev.outage("whop", false);
    }
    assert.equal((await client("outage-b").activate(key)).license.keyLast4, key.slice(-4));
  });

  test("a Dodo license key", async () => {
    const key = dev.world.keys.dodo;
    const activation = await client("dodo-a").activate(key);
    assert.equal(activation.entitlement.provider, "dodo");
  });
});

describe("the README quick start and the example app", { skip: skip ?? false }, () => {
  let dev;
  let work;
  before(async () => {
    dev = await startDev();
    work = mkdtempSync(join(tmpdir(), "tollgate-quickstart-js-"));
    writeFileSync(join(work, "jwks.json"), JSON.stringify(dev.world.jwks));
  });
  after(async () => {
    await dev?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("the README's quick start runs as written (URL and key from tollgate dev)", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const code = /## Quick start[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)[1];
    assert.ok(code.split("\n").length <= 14, "a short quick start");
    const script = code
      .replace("http://127.0.0.1:8080", dev.world.server_url)
      .replace("TGDEV-ACTV-7Q2M-K9XD", dev.world.keys.active);
    // inside the package, `tollgate-client` resolves to it (self-reference)
    writeFileSync(new URL("../quickstart.test-run.mjs", import.meta.url), script);
    try {
      const out = execFileSync(process.execPath, [fileURLToPath(new URL("../quickstart.test-run.mjs", import.meta.url))], {
        cwd: work,
        encoding: "utf8",
        env: { ...process.env, XDG_CONFIG_HOME: join(work, "config") },
      });
      assert.match(out, /^works offline until .+\nLEASE_FRESH\n$/);
    } finally {
      rmSync(new URL("../quickstart.test-run.mjs", import.meta.url), { force: true });
    }
  });

  test("examples/cli.mjs: prompt, activation, status, the refusal message", () => {
    const cli = fileURLToPath(new URL("../examples/cli.mjs", import.meta.url));
    const run = (device, input) =>
      execFileSync(process.execPath, [cli, "--server", dev.world.server_url, "--jwks", join(work, "jwks.json"), "--state", join(work, `${device}.json`), "--device-id", device], {
        input,
        encoding: "utf8",
        stdio: ["pipe", "pipe", "pipe"],
      });
    const first = run("cli-a", `${dev.world.keys.node_locked}\nstatus\nquit\n`);
    assert.match(first, /This computer is not activated\. Enter your license key to activate it\./);
    assert.match(first, /✓ Activated\.\n  plan .+, license ending in /);
    assert.match(first, /✓ LEASE_FRESH/);
    const second = run("cli-b", `${dev.world.keys.node_locked}\nquit\n`);
    assert.match(second, /This license key is already in use on another computer\. Deactivate it there, or contact support\.\n  → Deactivate on the other computer   \[IN_USE_ON_ANOTHER_DEVICE\]/);
  });
});
