// The API's types must be what openapi-typescript makes of openapi.json now: a hand edit of schema.d.ts, or an
// openapi.json regenerated without its types, fails here. (tests/integration/test_openapi_document.py holds
// openapi.json to the service's routes.) `make api-types` regenerates both.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const fresh = astToString(await openapiTS(new URL(`file://${join(root, "openapi.json")}`)));
const kept = readFileSync(join(root, "src/api/schema.d.ts"), "utf8");
const strip = (text) => text.replace(/^\/\*\*[\s\S]*?\*\/\s*/, "").trim();
if (strip(fresh) !== strip(kept)) {
  console.error("src/api/schema.d.ts does not match openapi.json: run `make api-types`");
  process.exit(1);
}
console.log("API types match openapi.json");
