// Compiles every schema of an OpenAPI 3.0 document strictly under Ajv 8
// (with ajv-formats), and validates the document's examples against their
// schemas. Tools built on Ajv, such as Stoplight Prism, silently skip a
// schema that does not compile, so one that does not is a broken contract.
//
//	node validate.mjs ../openapi.yaml
import { readFileSync } from "node:fs";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import YAML from "yaml";

const file = process.argv[2] ?? new URL("../openapi.yaml", import.meta.url);
const doc = YAML.parse(readFileSync(file, "utf8"));

// strict: unknown keywords, types that do not fit their keywords, and
// nullable without a type are errors, not warnings.
const ajv = new Ajv({ strict: true, allErrors: true });
addFormats(ajv);
ajv.addVocabulary(["example"]); // OpenAPI's annotation; nullable Ajv knows itself

// Every component schema is added under its own id, and references to it
// are rewritten to that id, so each schema compiles on its own.
const idOf = (name) => `https://tributary.dev/openapi/schemas/${name}`;
const relink = (v) =>
  JSON.parse(JSON.stringify(v), (k, x) =>
    k === "$ref" && typeof x === "string" && x.startsWith("#/components/schemas/")
      ? idOf(x.slice("#/components/schemas/".length))
      : x);
for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
  ajv.addSchema({ ...relink(schema), $id: idOf(name) });
}

// Every schema the document holds: the components, and each "schema" of a
// parameter, header or media type, with the examples that go with it.
const found = [];
for (const name of Object.keys(doc.components?.schemas ?? {})) {
  found.push({ where: `#/components/schemas/${name}`, schema: { $ref: idOf(name) }, examples: [] });
}
(function walk(node, path) {
  if (Array.isArray(node)) return node.forEach((x, i) => walk(x, `${path}/${i}`));
  if (node === null || typeof node !== "object") return;
  if (node.schema && typeof node.schema === "object" && !path.includes("/components/schemas/")) {
    const examples = [];
    if ("example" in node) examples.push(["example", node.example]);
    for (const [k, e] of Object.entries(node.examples ?? {})) if (e && "value" in e) examples.push([`examples/${k}`, e.value]);
    found.push({ where: `${path}/schema`, schema: relink(node.schema), examples });
  }
  for (const [k, v] of Object.entries(node)) walk(v, `${path}/${k.replaceAll("~", "~0").replaceAll("/", "~1")}`);
})(doc, "#");

let failures = 0;
for (const { where, schema, examples } of found) {
  let validate;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    console.error(`${where}: does not compile under Ajv 8 strict mode: ${err.message}`);
    failures++;
    continue;
  }
  for (const [name, value] of examples) {
    if (!validate(value)) {
      console.error(`${where}: its ${name} does not match it: ${ajv.errorsText(validate.errors)}`);
      failures++;
    }
  }
}
if (failures > 0) {
  console.error(`${failures} problem(s) in ${file}`);
  process.exit(1);
}
console.log(`${found.length} schemas compile strictly under Ajv 8, and their examples match them`);
