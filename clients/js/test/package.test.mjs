// `npm pack` makes a tarball that installs (offline, from its path) into an empty project and works there with both
// `import` and `require`, with type definitions for both.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

test("the packed tarball installs into an empty project and works with import, require and TypeScript", () => {
  const work = mkdtempSync(join(tmpdir(), "tollgate-pack-"));
  try {
    const packed = JSON.parse(
      execFileSync(npm, ["pack", "--json", "--pack-destination", work], { cwd: pkg, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
    );
    const files = packed[0].files.map((f) => f.path).sort();
    assert.ok(files.includes("dist/esm/index.js") && files.includes("dist/cjs/index.js"), files.join(" "));
    assert.ok(files.includes("dist/esm/index.d.ts") && files.includes("dist/cjs/index.d.ts"));
    assert.ok(!files.some((f) => f.startsWith("src/") || f.startsWith("test/")), files.join(" "));

    const app = join(work, "app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "empty-app", version: "1.0.0", private: true }));
    execFileSync(npm, ["install", "--offline", "--no-audit", "--no-fund", join(work, packed[0].filename)], {
      cwd: app,
      stdio: ["ignore", "pipe", "pipe"],
    });

    const program = (load) => `${load}
const jwks = { keys: [{ kty: "OKP", crv: "Ed25519", kid: "lease-1", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" }] };
const client = new TollgateClient({ serverUrl: "http://127.0.0.1:1", appId: "com.example.app", jwks, statePath: "state.json", deviceId: "m" });
client.check().then(
  () => console.log("allowed"),
  (err) => console.log(JSON.stringify([err instanceof TollgateError, err.code, ERROR_CODES.length, deviceHash("a", "b").length])),
);`;
    writeFileSync(join(app, "esm.mjs"), program('import { TollgateClient, TollgateError, ERROR_CODES, deviceHash } from "tollgate-client";'));
    writeFileSync(join(app, "cjs.cjs"), program('const { TollgateClient, TollgateError, ERROR_CODES, deviceHash } = require("tollgate-client");'));
    const expected = JSON.stringify([true, "NOT_ACTIVATED", 16, 64]);
    for (const file of ["esm.mjs", "cjs.cjs"]) {
      const out = execFileSync(process.execPath, [file], { cwd: app, encoding: "utf8" }).trim();
      assert.equal(out, expected, file);
    }

    // the type definitions resolve for an ES module and a CommonJS consumer, and catch a wrong option
    writeFileSync(
      join(app, "esm.mts"),
      'import { TollgateClient, type Access, type ErrorCode } from "tollgate-client";\n' +
        'const c = new TollgateClient({ serverUrl: "http://x", appId: "a", jwks: "{}", timeoutMs: 5 });\n' +
        'export const p: Promise<Access> = c.check();\nexport const code: ErrorCode = "CLOCK_ROLLBACK";\n',
    );
    writeFileSync(
      join(app, "cjs.cts"),
      'import tollgate = require("tollgate-client");\n' +
        'export const p: Promise<tollgate.Activation> = new tollgate.TollgateClient({ serverUrl: "http://x", appId: "a", jwks: "{}" }).activate("K");\n',
    );
    writeFileSync(join(app, "bad.mts"), 'import { TollgateClient } from "tollgate-client";\nnew TollgateClient({ serverUrl: "x", appid: "a", jwks: "{}" });\n');
    const typecheck = (files) =>
      execFileSync(process.execPath, [tsc, "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--types", "node", "--typeRoots", join(pkg, "node_modules", "@types"), ...files], {
        cwd: app,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
    typecheck(["esm.mts", "cjs.cts"]);
    assert.throws(() => typecheck(["bad.mts"]), (err) => /appid/.test(String(err.stdout)));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
