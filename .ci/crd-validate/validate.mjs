// Validates Prometheus operator custom resources: each argument is a JSON file holding an array
// of objects (ServiceMonitor, PrometheusRule). Exit 1 when any object is invalid. Run from
// .tools/crd-validate (where npm installed package.json), e.g. by synth/tests/cluster.rs.
import { readFileSync } from "node:fs";
import { ServiceMonitor, PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
const models = { ServiceMonitor, PrometheusRule };
let failed = 0, checked = 0;
// As a file, argv[1] is the script; with --eval, the arguments start at argv[1].
for (const file of process.argv.slice(1).filter((a) => a.endsWith(".json"))) {
  for (const obj of JSON.parse(readFileSync(file, "utf8"))) {
    const Model = models[obj.kind];
    if (!Model) { console.error(`${file}: no model for kind ${obj.kind}`); failed++; continue; }
    try { new Model(obj).validate(); checked++; console.log(`ok ${file}: ${obj.kind}/${obj.metadata.name}`); }
    catch (e) { failed++; console.error(`FAIL ${file}: ${obj.kind}/${obj.metadata?.name}: ${e.message}`); }
  }
}
console.log(`${checked} valid, ${failed} invalid`);
process.exit(failed ? 1 : 0);
