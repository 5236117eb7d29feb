// The Tollgate console in a real browser: Playwright (playwright-core) driving Debian's Chromium against a running
// `tollgate serve` that the Rust harness (bin/tollgate/tests/console/browser.rs) started and seeded:
//   - a Whop license TOLLGATE_LICENSE_KEY with two devices, "Laptop" (hwid hw-laptop) and "Desktop";
//   - a denial (an unknown device validated);
//   - one authentic webhook this release cannot parse (inbox event 1, status failed).
// It uses the accessible names of issue 20 exactly. With TOLLGATE_SCREENSHOTS set it writes one PNG per page there.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const BASE = process.env.TOLLGATE_URL;
const TOKEN = process.env.TOLLGATE_ADMIN_TOKEN;
const KEY = process.env.TOLLGATE_LICENSE_KEY;
const SHOTS = process.env.TOLLGATE_SCREENSHOTS;
assert.ok(BASE && TOKEN && KEY, "run through `cargo test -p tollgate --test it -- --ignored console::browser`");

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let browser;
let context;
let page;
let profile;

async function shot(name, target = page) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await target.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** A fresh browser context whose requests come from `ip` (the server trusts X-Forwarded-For in this run). */
async function contextFrom(ip, options = {}) {
  return browser.newContext({ extraHTTPHeaders: { "X-Forwarded-For": ip }, ...options });
}

async function signIn(target, token = TOKEN) {
  await target.goto(`${BASE}/console/sign-in`);
  await target.getByLabel("Admin token").fill(token);
  await target.getByRole("button", { name: "Sign in" }).click();
}

describe("the Tollgate console", () => {
  before(async () => {
    // A new, empty profile directory for this run (Playwright's launch uses it as --user-data-dir).
    profile = mkdtempSync(join(tmpdir(), "tollgate-console-chromium-"));
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      args: CHROMIUM_ARGS,
      env: { ...process.env, HOME: profile },
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it("sends the security headers, CSP without inline script included", async () => {
    const response = await page.goto(`${BASE}/console/sign-in`);
    const headers = response.headers();
    assert.equal(response.status(), 200);
    assert.match(headers["content-security-policy"], /script-src 'self'/);
    assert.match(headers["content-security-policy"], /frame-ancestors 'none'/);
    assert.doesNotMatch(headers["content-security-policy"], /unsafe-inline/);
    assert.equal(headers["x-frame-options"], "DENY");
    assert.equal(headers["x-content-type-options"], "nosniff");
    assert.equal(headers["referrer-policy"], "no-referrer");
    await shot("sign-in");
  });

  it("redirects a console URL without a session to sign-in", async () => {
    await page.goto(`${BASE}/console/inbox?status=failed`);
    assert.equal(new URL(page.url()).pathname, "/console/sign-in");
    assert.equal(new URL(page.url()).searchParams.get("next"), "/console/inbox?status=failed");
  });

  it("signs in with the admin token", async () => {
    await signIn(page);
    await page.waitForURL(`${BASE}/console/`);
    assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Overview");
    const cookie = (await context.cookies()).find((c) => c.name === "tollgate_console");
    assert.ok(cookie, "session cookie set");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, "Strict");
    assert.match(await page.locator("body").textContent(), /Setup checklist: \d+ done, \d+ pending/);
    assert.match(await page.locator("body").textContent(), /DEVICE_NOT_ACTIVATED/);
    await shot("overview");
  });

  it("finds a license by key", async () => {
    await page.getByRole("link", { name: "Find a license" }).click();
    await shot("find");
    await page.getByLabel("License key").fill(KEY);
    await page.getByRole("button", { name: "Find", exact: true }).click();
    await page.waitForURL(/\/console\/licenses\/[^/?]+$/);
    assert.equal(await page.getByRole("heading", { name: "Access allowed" }).count(), 1);
    assert.equal(await page.getByRole("button", { name: "Reset device" }).count(), 2);
    assert.equal(await page.getByRole("button", { name: "Reset all devices" }).count(), 1);
    assert.doesNotMatch(await page.content(), new RegExp(KEY), "the key is never shown");
    await shot("license");
  });

  it("resets one device: gone, audited as console, and the app's next validate is refused", async () => {
    const laptop = page.getByRole("row").filter({ hasText: "Laptop" });
    await laptop.getByRole("button", { name: "Reset device" }).click();
    await page.waitForURL(/done=reset$/);
    assert.match(await page.getByRole("status").textContent(), /Device reset/);
    assert.equal(await page.getByRole("button", { name: "Reset device" }).count(), 1);
    assert.equal(await page.getByRole("row").filter({ hasText: "Laptop" }).count(), 0);
    const timeline = page.locator("ol.timeline li").first();
    assert.match(await timeline.textContent(), /console\s+device\.reset/);
    assert.match(await timeline.textContent(), /reset by console session [0-9a-f]{8}/);

    const validate = await fetch(`${BASE}/api/license/validate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ license_key: KEY, hwid: "hw-laptop" }),
    });
    assert.equal(validate.status, 403);
    assert.equal((await validate.json()).code, "DEVICE_NOT_ACTIVATED");
    const other = await fetch(`${BASE}/api/license/validate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ license_key: KEY, hwid: "hw-desktop" }),
    });
    assert.equal(other.status, 200, "the other device keeps working");
  });

  it("refuses a POST without the CSRF token", async () => {
    const reply = await page.request.post(`${BASE}/console/inbox/replay-failed`, { form: { nothing: "x" } });
    assert.equal(reply.status(), 403);
    assert.match(await reply.text(), /security token/);
  });

  it("replays a failed event, and shows its body only on request", async () => {
    await page.getByRole("link", { name: "Inbox" }).click();
    await page.getByLabel("Status").selectOption("failed");
    await page.waitForURL(/status=failed/);
    await shot("inbox");
    await page.getByRole("link", { name: "1", exact: true }).click();
    await page.waitForURL(`${BASE}/console/inbox/1`);
    assert.equal(await page.locator("pre.body").count(), 0, "no body until asked");
    await page.getByRole("button", { name: "Show body" }).click();
    assert.match(await page.locator("pre.body").textContent(), /"id": 42/);
    await shot("event");
    await page.getByRole("button", { name: "Replay", exact: true }).click();
    await page.waitForURL(/done=failed$/);
    assert.match(await page.getByRole("status").textContent(), /Replayed/);
    assert.match(await page.locator("dl.facts").textContent(), /Attempts\s*2/);
  });

  it("shows the reconciliation and policy pages", async () => {
    await page.getByRole("link", { name: "Reconciliation" }).click();
    await page.getByRole("button", { name: "Run now" }).click();
    assert.match(await page.getByRole("status").textContent(), /Reconciliation finished/);
    await shot("reconciliation");
    await page.getByRole("link", { name: "Policy" }).click();
    assert.match(await page.locator("main").textContent(), /max_devices\s*2/);
    await shot("policy");
  });

  it("is readable on a phone, and its read pages work with JavaScript off", async () => {
    const phone = await contextFrom("203.0.113.21", {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      javaScriptEnabled: false,
    });
    const small = await phone.newPage();
    await signIn(small);
    await small.waitForURL(`${BASE}/console/`);
    await small.goto(`${BASE}/console/find`);
    await small.getByLabel("License key").fill(KEY);
    await small.getByRole("button", { name: "Find", exact: true }).click();
    await small.waitForURL(/\/console\/licenses\//);
    assert.equal(await small.getByRole("button", { name: "Reset device" }).count(), 1);
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    assert.equal(overflow, false, "no sideways scrolling on a phone");
    await shot("license-phone", small);
    await phone.close();
  });

  it("signs out, and the old session cookie is dead", async () => {
    const old = (await context.cookies()).find((c) => c.name === "tollgate_console");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${BASE}/console/sign-in`);
    const reused = await browser.newContext();
    await reused.addCookies([{ ...old }]);
    const again = await reused.newPage();
    await again.goto(`${BASE}/console/`);
    assert.equal(new URL(again.url()).pathname, "/console/sign-in", "the old cookie no longer signs in");
    const post = await again.request.post(`${BASE}/console/inbox/replay-failed`, { form: { csrf: "x" } });
    assert.equal(post.status(), 403);
    await reused.close();
  });

  it("throttles wrong tokens", async () => {
    const guesser = await contextFrom("203.0.113.9");
    const guess = await guesser.newPage();
    await signIn(guess, "not-the-admin-token-00000");
    assert.match(await guess.getByRole("alert").textContent(), /That is not the admin token/);
    // The allowance (one a minute here) is spent: even the right token waits now.
    await signIn(guess, TOKEN);
    assert.match(await guess.getByRole("alert").textContent(), /Too many sign-in attempts/);
    assert.equal(new URL(guess.url()).pathname, "/console/sign-in");
    assert.equal((await guesser.cookies()).some((c) => c.name === "tollgate_console"), false);
    await guesser.close();
  });
});
