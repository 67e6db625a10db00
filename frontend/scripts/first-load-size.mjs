// The JavaScript a browser must fetch before the first page shows: the entry script and every module it
// preloads, gzipped, against the budget (500 KB). Pages loaded later (lazy routes) are not counted.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const BUDGET = 500 * 1024;
const built = join(dirname(fileURLToPath(import.meta.url)), "../../src/batchyard/api/dashboard");
const html = readFileSync(join(built, "index.html"), "utf8");
const scripts = [...html.matchAll(/<(?:script[^>]+src|link[^>]+rel="modulepreload"[^>]+href)="\/([^"]+\.js)"/g)].map((m) => m[1]);
if (scripts.length === 0) throw new Error("no script found in the built index.html");
let total = 0;
for (const path of scripts) {
  const size = gzipSync(readFileSync(join(built, path)), { level: 9 }).length;
  total += size;
  console.log(`${(size / 1024).toFixed(1).padStart(8)} KB  ${path}`);
}
console.log(`${(total / 1024).toFixed(1).padStart(8)} KB  first load, gzipped (budget ${BUDGET / 1024} KB)`);
if (total > BUDGET) process.exit(1);
