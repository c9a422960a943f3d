// Validates a multi-document YAML file of Knative Services offline, the way `faasml deploy
// knative` writes them: each document against @kubernetes-models/knative's schema of
// serving.knative.dev/v1 Service (types, required fields, the nested core PodSpec), plus the
// checks the API server and Knative's webhook make that the schema does not: the name is a
// DNS-1123 label, no unknown top-level fields, exactly one container with one port.
//
// Usage: node deploy/validate/knative.mjs FILE.yaml [--pods OUT.yaml]
// Exits 0 when every document is valid, 1 with the errors otherwise, 2 on usage errors.
// With --pods, also writes each Service's revision template as a core v1 Pod (Knative-only
// fields removed), for a strict core-schema check with `kubernetes-validate --strict`.
import { readFileSync, writeFileSync } from "node:fs";
import { parseAllDocuments, stringify } from "yaml";
import { Service } from "@kubernetes-models/knative/serving.knative.dev/v1/Service";

const args = process.argv.slice(2);
const podsAt = args.indexOf("--pods");
const podsFile = podsAt >= 0 ? args[podsAt + 1] : undefined;
const file = args.find((a, i) => !a.startsWith("--") && (podsAt < 0 || i !== podsAt + 1));
if (!file || (podsAt >= 0 && !podsFile)) {
  console.error("usage: node knative.mjs FILE.yaml [--pods OUT.yaml]");
  process.exit(2);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const KNOWN = {
  service: ["apiVersion", "kind", "metadata", "spec"],
  spec: ["template", "traffic"],
  template: ["metadata", "spec"],
};
const KNATIVE_ONLY = ["containerConcurrency", "timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds"];

function unknownKeys(obj, allowed, where) {
  return Object.keys(obj ?? {})
    .filter((k) => !allowed.includes(k))
    .map((k) => `${where}: unknown field '${k}'`);
}

const errors = [];
const pods = [];
const docs = parseAllDocuments(readFileSync(file, "utf8"));
const objects = [];
for (const [i, doc] of docs.entries()) {
  if (doc.errors.length > 0) {
    errors.push(`document ${i}: YAML error: ${doc.errors.map((e) => e.message).join("; ")}`);
    continue;
  }
  const obj = doc.toJS();
  if (obj !== null && obj !== undefined) objects.push(obj);
}
if (objects.length === 0) errors.push("no Service in the file");

for (const [i, obj] of objects.entries()) {
  const where = `document ${i} (${obj?.metadata?.name ?? "unnamed"})`;
  if (obj.apiVersion !== Service.apiVersion || obj.kind !== Service.kind) {
    errors.push(`${where}: expected ${Service.apiVersion} ${Service.kind}, got ${obj.apiVersion} ${obj.kind}`);
    continue;
  }
  try {
    new Service(obj).validate();
  } catch (e) {
    errors.push(`${where}: ${e.message}`);
  }
  const name = obj.metadata?.name ?? "";
  if (!DNS_LABEL.test(name) || name.length > 63) {
    errors.push(`${where}: metadata.name '${name}' is not a DNS-1123 label`);
  }
  errors.push(...unknownKeys(obj, KNOWN.service, where));
  errors.push(...unknownKeys(obj.spec, KNOWN.spec, `${where} spec`));
  errors.push(...unknownKeys(obj.spec?.template, KNOWN.template, `${where} spec.template`));
  const podSpec = obj.spec?.template?.spec ?? {};
  const containers = podSpec.containers ?? [];
  if (containers.length !== 1) errors.push(`${where}: expected exactly one container, got ${containers.length}`);
  for (const c of containers) {
    if ((c.ports ?? []).length > 1) errors.push(`${where}: Knative allows at most one port`);
  }
  const spec = Object.fromEntries(Object.entries(podSpec).filter(([k]) => !KNATIVE_ONLY.includes(k)));
  pods.push({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, ...(obj.spec?.template?.metadata ?? {}) },
    spec,
  });
}

if (errors.length > 0) {
  console.error(`${file}: invalid:\n  ${errors.join("\n  ")}`);
  process.exit(1);
}
if (podsFile) writeFileSync(podsFile, pods.map((p) => "---\n" + stringify(p)).join(""));
console.log(`${file}: ${objects.length} valid Knative Service(s)`);
