// Lints Cypher statements with Neo4j's own parser and semantic analysis
// (@neo4j-cypher/language-support, the library behind Neo4j's editor tooling), no server.
//
// stdin:  {"versions": ["CYPHER 5", "CYPHER 25"],
//          "labels": [...], "relationshipTypes": [...],         (optional: unknown ones warn)
//          "statements": [{"text": "...", "parameters": {"ns": "...", ...}}]}
// stdout: {"package": "<name>@<version>",
//          "results": [{"index": i, "version": v, "diagnostics": [
//              {"severity": "error" | "warning" | "info" | "hint", "deprecated": bool,
//               "message": "...", "line": n, "column": n}]}]}
//
// Functions are checked against the built-in functions of the table the package ships
// (taken from a real Neo4j; its plug-in functions, e.g. APOC, are left out: a plain Neo4j
// has none), so an unknown function is an error and a deprecated one a warning. No
// procedures are declared: memsim calls none, so any CALL of one is an error.
// Parameters must be declared per statement (only their names matter).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lintCypherQuery, testData } from '@neo4j-cypher/language-support';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = JSON.parse(readFileSync(
  join(here, 'node_modules', '@neo4j-cypher', 'language-support', 'package.json'), 'utf8'));
const input = JSON.parse(readFileSync(0, 'utf8'));
const SEVERITY = { 1: 'error', 2: 'warning', 3: 'info', 4: 'hint' };
const DEPRECATED_TAG = 2;

const builtIn = (table) =>
  Object.fromEntries(Object.entries(table ?? {}).filter(([, fn]) => fn.isBuiltIn));
const functions = Object.fromEntries(
  Object.entries(testData.mockSchema.functions).map(([v, table]) => [v, builtIn(table)]));
const base = { functions, procedures: {} };
if (input.labels) base.labels = input.labels;
if (input.relationshipTypes) base.relationshipTypes = input.relationshipTypes;

const results = [];
for (const version of input.versions ?? ['CYPHER 5']) {
  input.statements.forEach((statement, index) => {
    const schema = { ...base, defaultLanguage: version, parameters: statement.parameters ?? {} };
    const { diagnostics } = lintCypherQuery(statement.text, schema);
    results.push({
      index,
      version,
      diagnostics: diagnostics.map((d) => ({
        severity: SEVERITY[d.severity] ?? String(d.severity),
        deprecated: (d.tags ?? []).includes(DEPRECATED_TAG) || /deprecat/i.test(d.message),
        message: d.message,
        line: d.range.start.line + 1,
        column: d.range.start.character + 1,
      })),
    });
  });
}
process.stdout.write(JSON.stringify({ package: `${pkg.name}@${pkg.version}`, results }) + '\n');
