// What the conformance vectors do not cover: options the client refuses, the state file's mode and atomic writes,
// the machine id source, the default state path, and the code list.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { defaultStatePath, ERROR_CODES, machineId, TollgateClient, TollgateError } from "../dist/esm/index.js";
import { cannedServer, loadVectors } from "./helpers.mjs";

const vectors = loadVectors();
const { app_id: appId, jwks } = vectors.client;
let server;
let dir;
before(async () => {
  server = await cannedServer();
  dir = mkdtempSync(join(tmpdir(), "tollgate-js-"));
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test("the code list is issue 22's, in order", () => {
  assert.deepEqual(ERROR_CODES, [
    "INVALID_LICENSE", "IN_USE_ON_ANOTHER_DEVICE", "DEVICE_LIMIT_REACHED", "LICENSE_INACTIVE", "PAYMENT_ISSUE",
    "NOT_ACTIVATED", "RATE_LIMITED", "TRANSFER_NOT_ALLOWED", "TRANSFER_COOLDOWN", "SERVICE_UNAVAILABLE",
    "SERVER_UNREACHABLE", "OFFLINE_GRACE_EXPIRED", "CLOCK_ROLLBACK", "STATE_CORRUPT", "UNEXPECTED_RESPONSE",
    "MISCONFIGURED",
  ]);
});

test("options the client cannot use are MISCONFIGURED, with a sentence and an action", () => {
  const base = { serverUrl: "http://127.0.0.1:1", appId, jwks, statePath: join(dir, "x.json") };
  for (const bad of [
    { serverUrl: "not a url" },
    { serverUrl: "ftp://example.com" },
    { appId: "  " },
    { jwks: "{not json" },
    { jwks: { keys: [] } },
    { jwks: { keys: [{ kty: "OKP", crv: "Ed25519", kid: "k", x: "AAAA" }] } },
  ]) {
    assert.throws(
      () => new TollgateClient({ ...base, ...bad }),
      (err) =>
        err instanceof TollgateError &&
        err.code === "MISCONFIGURED" &&
        err.message === "This app is not set up correctly to check licenses. Contact support." &&
        err.action.kind === "CONTACT_SUPPORT",
      JSON.stringify(bad),
    );
  }
});

test("activation writes the state atomically, 0600 in a 0700 directory, without the key", async () => {
  const scenario = vectors.scenarios.find((s) => s.name.startsWith("activation, judged"));
  const step = scenario.steps[0];
  server.script(step.response);
  const statePath = join(dir, "fresh", "nested", "license.json");
  let now = step.now * 1000;
  const client = new TollgateClient({ serverUrl: server.url, appId, jwks, statePath, deviceId: scenario.machine_id, clock: () => now });
  await client.activate(step.key);
  now = scenario.steps[2].now * 1000;
  assert.equal(statSync(statePath).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, "fresh", "nested")).mode & 0o777, 0o700);
  assert.deepEqual(readdirSync(join(dir, "fresh", "nested")), ["license.json"], "no temporary file left");
  const text = readFileSync(statePath, "utf8");
  assert.ok(!text.includes(step.key));
  assert.deepEqual(Object.keys(JSON.parse(text)), [
    "version", "status", "device_hash", "key_last4", "activated_at", "last_online_at", "last_server_time", "lease",
  ]);
  // two calls at once are run one after the other and both see a consistent file
  const [a, b] = await Promise.all([client.check(), client.check()]);
  assert.equal(a.reason, "LEASE_FRESH");
  assert.equal(b.reason, "LEASE_FRESH");
});

test("an unwritable state directory is MISCONFIGURED with the storage sentence", async () => {
  const scenario = vectors.scenarios.find((s) => s.name.startsWith("activation, judged"));
  const step = scenario.steps[0];
  server.script(step.response);
  // a file where the state directory should be (a permission test would not hold for root)
  writeFileSync(join(dir, "in-the-way"), "");
  const client = new TollgateClient({
    serverUrl: server.url, appId, jwks, statePath: join(dir, "in-the-way", "license.json"),
    deviceId: scenario.machine_id, clock: () => step.now * 1000,
  });
  await assert.rejects(client.activate(step.key), (err) =>
    err.code === "MISCONFIGURED" && /could not save its license information/.test(err.message));
});

test("the machine id is read from the same place as the Rust client's", { skip: process.platform !== "linux" }, () => {
  const read = (p) => {
    try {
      return readFileSync(p, "utf8").trim();
    } catch {
      return null;
    }
  };
  const expected = read("/var/lib/dbus/machine-id") ?? read("/etc/machine-id");
  assert.equal(machineId(), expected || null);
});

test("the default state path is the Rust client's", { skip: process.platform !== "linux" }, () => {
  const saved = process.env.XDG_CONFIG_HOME;
  try {
    process.env.XDG_CONFIG_HOME = "/xdg";
    assert.equal(defaultStatePath("Com.Example My App"), "/xdg/com.examplemyapp/tollgate-license.json");
    process.env.XDG_CONFIG_HOME = "relative";
    assert.match(defaultStatePath("app"), /\/\.config\/app\/tollgate-license\.json$/);
  } finally {
    if (saved === undefined) delete process.env.XDG_CONFIG_HOME;
    else process.env.XDG_CONFIG_HOME = saved;
  }
});
