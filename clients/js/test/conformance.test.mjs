// Runs clients/conformance/vectors.json against the built package: the same file the Rust and Python clients run.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { deviceHash, parseJwks, TollgateClient, TollgateError, verifyLease } from "../dist/esm/index.js";
import { cannedServer, closedPortUrl, loadVectors } from "./helpers.mjs";

const vectors = loadVectors();
const client = vectors.client;
const secs = (date) => Math.floor(date.getTime() / 1000);

function errorJson(err) {
  assert.ok(err instanceof TollgateError, `a TollgateError, got ${err?.stack ?? err}`);
  return { code: err.code, message: err.message, action: { kind: err.action.kind, label: err.action.label } };
}

function licenseJson(l) {
  return {
    entitlement_id: l.entitlementId,
    product: l.product,
    plan: l.plan,
    status: l.status,
    features: l.features,
    key_last4: l.keyLast4,
    lease_issued_at: secs(l.leaseIssuedAt),
    lease_expires_at: secs(l.leaseExpiresAt),
    refresh_after: secs(l.refreshAfter),
  };
}

function accessJson(a) {
  const out = { reason: a.reason, next_check_at: secs(a.nextCheckAt), license: licenseJson(a.license) };
  if (a.cause !== undefined) out.cause = errorJson(a.cause);
  return { access: out };
}

function activationJson(a) {
  const e = a.entitlement;
  return {
    activation: {
      license: licenseJson(a.license),
      device_id: a.deviceId,
      entitlement: {
        id: e.id,
        provider: e.provider,
        product: e.product,
        status: e.status,
        current_period_end: e.currentPeriodEnd === null ? null : secs(e.currentPeriodEnd),
        cancel_at_period_end: e.cancelAtPeriodEnd,
        oauth_url: e.oauthUrl,
      },
    },
  };
}

test("device hashes", () => {
  assert.ok(vectors.device_hashes.length >= 5);
  for (const c of vectors.device_hashes) {
    assert.equal(deviceHash(c.app_id, c.machine_id), c.hash, JSON.stringify(c));
  }
});

test("the JWKS keeps only the Ed25519 signing key", () => {
  assert.deepEqual([...parseJwks(client.jwks).keys()], ["lease-1"]);
  assert.deepEqual([...parseJwks(JSON.stringify(client.jwks)).keys()], ["lease-1"]);
});

test("leases", () => {
  const keys = parseJwks(client.jwks);
  assert.ok(vectors.leases.length >= 20);
  for (const c of vectors.leases) {
    let outcome = "valid";
    try {
      verifyLease(c.token, keys, {
        now: c.now,
        deviceHash: deviceHash(client.app_id, c.machine_id),
        ...(c.audience === null ? {} : { audience: c.audience }),
      });
    } catch (err) {
      assert.equal(err?.name, "LeaseError", `${c.name}: ${err?.stack}`);
      outcome = err.reason;
    }
    assert.equal(outcome, c.expect, c.name);
  }
});

describe("scenarios", () => {
  let server;
  let closed;
  const dirs = [];
  before(async () => {
    server = await cannedServer();
    closed = await closedPortUrl();
  });
  after(async () => {
    await server.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  for (const scenario of [...vectors.scenarios, ...vectors.server_errors]) {
    test(scenario.name, async () => {
      const dir = mkdtempSync(join(tmpdir(), "tollgate-conformance-"));
      dirs.push(dir);
      const statePath = join(dir, "state", "license.json");
      mkdirSync(join(dir, "state"));
      if (typeof scenario.state_text === "string") writeFileSync(statePath, scenario.state_text);
      else if (scenario.state !== null) writeFileSync(statePath, JSON.stringify(scenario.state));
      for (const [i, step] of scenario.steps.entries()) {
        const context = `${scenario.name}, step ${i}`;
        const unreachable = step.response === "unreachable";
        server.script(typeof step.response === "object" ? step.response : null);
        const c = new TollgateClient({
          serverUrl: unreachable ? closed : server.url,
          appId: client.app_id,
          jwks: client.jwks,
          statePath,
          deviceId: scenario.machine_id,
          clock: () => step.now * 1000,
          purchaseUrl: client.purchase_url,
        });
        let actual;
        try {
          switch (step.call) {
            case "check":
              actual = accessJson(await c.check());
              break;
            case "check_with_key":
              actual = accessJson(await c.checkWithKey(step.key));
              break;
            case "activate":
              actual = activationJson(await c.activate(step.key));
              break;
            case "deactivate":
              actual = { deactivation: { remaining_devices: (await c.deactivate(step.key)).remainingDevices } };
              break;
            default:
              assert.fail(`${context}: unknown call ${step.call}`);
          }
        } catch (err) {
          if (err?.code === "ERR_ASSERTION") throw err;
          actual = { error: errorJson(err) };
        }
        const { note: _note, ...expect } = step.expect;
        assert.deepEqual(actual, expect, context);

        const requests = server.requests();
        if ("request" in step) assert.deepEqual(requests, [step.request], `${context}: the request sent`);
        else if (typeof step.response === "object") assert.equal(requests.length, 1, `${context}: one request`);
        else assert.deepEqual(requests, [], `${context}: no request expected`);

        if ("state_after" in step) {
          if (step.state_after === null) {
            assert.ok(!existsSync(statePath), `${context}: the state file is gone`);
          } else {
            const stored = JSON.parse(readFileSync(statePath, "utf8"));
            for (const [field, value] of Object.entries(step.state_after)) {
              const got = field === "last_server_time" ? Math.floor(Date.parse(stored[field]) / 1000) : stored[field];
              assert.deepEqual(got, value, `${context}: state field ${field}`);
            }
          }
        }
      }
    });
  }
});
