// Validates an AsyncAPI document with the reference parser (@asyncapi/parser): the AsyncAPI
// JSON Schema, the bindings, every $ref (payload schemas live in separate files) and the
// parser's own rules. Prints one line per diagnostic; exits 1 on any error or warning, 2 on
// bad usage. Usage: node validate.mjs <path/to/asyncapi.yaml>
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Parser, fromFile } from '@asyncapi/parser';

const SEVERITY = ['error', 'warning', 'info', 'hint'];

const path = process.argv[2];
if (!path) {
  console.error('usage: node validate.mjs <asyncapi.yaml>');
  process.exit(2);
}
await readFile(path); // a missing file fails here, with its name, not deep in the parser

const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, resolve(path)).parse();
for (const d of diagnostics) {
  const where = d.path.length ? d.path.join('.') : '(document)';
  console.log(`${SEVERITY[d.severity] ?? d.severity} ${d.code} at ${where}: ${d.message}`);
}
const failing = diagnostics.filter((d) => d.severity <= 1);
if (!document || failing.length) {
  console.log(`asyncapi: INVALID (${failing.length} errors or warnings)`);
  process.exit(1);
}
const channels = document.channels().all().map((c) => c.address());
const operations = document.operations().all().map((o) => o.id());
console.log(
  `asyncapi: valid ${document.version()}; channels: ${channels.join(', ')}; ` +
    `operations: ${operations.join(', ')}`,
);
