// Shared test helpers: the conformance vectors file, a loopback server that answers what a step says and records
// what it was asked, and a closed port.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const VECTORS_PATH = join(here, "..", "..", "conformance", "vectors.json");

export function loadVectors() {
  return JSON.parse(readFileSync(VECTORS_PATH, "utf8"));
}

/** A loopback HTTP server that answers every request with `script.response` and records the requests. */
export async function cannedServer() {
  const script = { response: null, requests: [] };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      script.requests.push({ method: req.method, path: req.url, body });
      const r = script.response;
      if (r === null) {
        res.writeHead(500).end("this step expects no request");
        return;
      }
      res.sendDate = false;
      res.writeHead(r.status, r.headers ?? {});
      res.end(r.body ?? "");
    });
  });
  server.keepAliveTimeout = 1;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    script(response) {
      script.response = response;
      script.requests = [];
    },
    requests: () => script.requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(resolve);
      }),
  };
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPortUrl() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}
