#!/usr/bin/env node
// A small terminal app licensed with tollgate-client: it asks for the key, shows a spinner while activating, shows
// the plan and the offline grace, every refusal with its message and action, and has status / revalidate /
// deactivate commands. Against `tollgate dev` (it prints the URL and the JWKS):
//
//   cargo run -p tollgate -- dev --json > /tmp/dev.json &        # or without --json for the banner
//   node examples/cli.mjs --server http://127.0.0.1:8080 --jwks-from-dev /tmp/dev.json
//
// Options: --server URL, --app-id ID, --jwks FILE (the server's JWKS, shipped with your app), --jwks-from-dev FILE
// (the JSON line of `tollgate dev --json`), --state FILE, --device-id ID (pretend to be another computer),
// --purchase-url URL.
import { readFileSync } from "node:fs";
import { stdin, stdout, stderr } from "node:process";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

import { TollgateClient, TollgateError } from "tollgate-client";

const { values: opts } = parseArgs({
  options: {
    server: { type: "string", default: "http://127.0.0.1:8080" },
    "app-id": { type: "string", default: "com.example.tollgate-js-demo" },
    jwks: { type: "string" },
    "jwks-from-dev": { type: "string" },
    state: { type: "string" },
    "device-id": { type: "string" },
    "purchase-url": { type: "string", default: "https://example.com/renew" },
  },
});

function jwks() {
  if (opts.jwks) return readFileSync(opts.jwks, "utf8");
  if (opts["jwks-from-dev"]) return JSON.parse(readFileSync(opts["jwks-from-dev"], "utf8").split("\n")[0]).jwks;
  stderr.write("Pass --jwks FILE (the server's /.well-known/jwks.json) or --jwks-from-dev FILE (tollgate dev --json).\n");
  process.exit(2);
}

let client;
try {
  client = new TollgateClient({
    serverUrl: opts.server,
    appId: opts["app-id"],
    jwks: jwks(),
    purchaseUrl: opts["purchase-url"],
    ...(opts.state ? { statePath: opts.state } : {}),
    ...(opts["device-id"] ? { deviceId: opts["device-id"] } : {}),
  });
} catch (err) {
  stderr.write(`${err.message}\n`);
  process.exit(2);
}

const rl = createInterface({ input: stdin, terminal: stdin.isTTY === true });
const lines = rl[Symbol.asyncIterator]();

/** Prints `prompt` and reads one line (null at the end of input). */
async function ask(prompt) {
  stdout.write(prompt);
  const next = await lines.next();
  if (next.done) stdout.write("\n");
  return next.done ? null : next.value;
}

/** Runs `work` with a spinner on stderr. */
async function spinning(label, work) {
  const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
  let i = 0;
  const timer = setInterval(() => stderr.write(`\r${frames[i++ % frames.length]} ${label}`), 80);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    stderr.write(`\r${" ".repeat(label.length + 2)}\r`);
  }
}

const day = (d) => d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function showLicense(license) {
  const hours = Math.max(0, Math.floor((license.leaseExpiresAt.getTime() - Date.now()) / 3_600_000));
  stdout.write(
    `  plan ${license.plan ?? "-"}, license ending in ${license.keyLast4}\n` +
      `  works offline until ${day(license.leaseExpiresAt)} (${plural(Math.floor(hours / 24), "day")} ${plural(hours % 24, "hour")})\n` +
      `  next online check ${day(license.refreshAfter)}\n`,
  );
}

function showError(err) {
  if (!(err instanceof TollgateError)) throw err;
  stdout.write(`✗ ${err.message}\n  → ${err.action.label}   [${err.code}]\n`);
}

async function askKey() {
  return ((await ask("License key: ")) ?? "").trim();
}

async function activate() {
  const key = await askKey();
  try {
    const activation = await spinning("Activating…", () => client.activate(key));
    stdout.write("✓ Activated.\n");
    showLicense(activation.license);
    return key;
  } catch (err) {
    showError(err);
    return null;
  }
}

let key = null;
try {
  const access = await client.check();
  stdout.write(`✓ Licensed (${access.reason}).\n`);
  showLicense(access.license);
} catch (err) {
  showError(err);
  if (err instanceof TollgateError && err.action.kind === "ENTER_KEY") key = await activate();
}

stdout.write("Commands: status, revalidate, deactivate, quit\n");
for (;;) {
  const line = await ask("> ");
  if (line === null) break;
  const command = line.trim();
  try {
    if (command === "status") {
      const access = await client.check();
      stdout.write(`✓ ${access.reason}${access.cause ? `: ${access.cause.message}` : ""}\n`);
      showLicense(access.license);
    } else if (command === "revalidate") {
      key ??= await askKey();
      const access = await spinning("Checking…", () => client.checkWithKey(key));
      stdout.write(`✓ ${access.reason}${access.cause ? `: ${access.cause.message}` : ""}\n`);
      showLicense(access.license);
    } else if (command === "deactivate") {
      key ??= await askKey();
      const done = await spinning("Deactivating…", () => client.deactivate(key));
      stdout.write(`✓ Deactivated on this computer${done.remainingDevices === null ? "" : ` (${plural(done.remainingDevices, "device")} left)`}.\n`);
      key = null;
    } else if (command === "quit" || command === "exit") {
      break;
    } else if (command !== "") {
      stdout.write("Commands: status, revalidate, deactivate, quit\n");
    }
  } catch (err) {
    showError(err);
  }
}
rl.close();
