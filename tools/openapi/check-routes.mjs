// Checks docs/openapi.yaml against the route table the server answers with (`atrium routes
// --json`, built exactly as `atrium serve` builds it): every route is described, nothing else is,
// and each operation's `x-atrium-access` names what the table enforces ("public",
// "authenticated" or the permission). Public routes declare `security: []`, the others inherit
// the bearer requirement. Exit status 1 with one line per difference.
//   node check-routes.mjs <openapi.yaml> <routes.json>
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const [specFile, routesFile] = process.argv.slice(2);
const spec = parse(readFileSync(specFile, 'utf8'));
const routes = JSON.parse(readFileSync(routesFile, 'utf8'));

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const problems = [];

const documented = new Map();
for (const [path, item] of Object.entries(spec.paths ?? {})) {
  for (const method of METHODS) {
    if (item[method]) documented.set(`${method.toUpperCase()} ${path}`, item[method]);
  }
}

const served = new Map();
for (const r of routes) {
  const key = `${r.method} ${r.path}`;
  served.set(key, r);
  const op = documented.get(key);
  if (!op) {
    problems.push(`${key}: in the route table, missing from openapi.yaml`);
    continue;
  }
  const access = r.access === 'permission' ? r.permission : r.access;
  if (op['x-atrium-access'] !== access)
    problems.push(`${key}: x-atrium-access is ${JSON.stringify(op['x-atrium-access'])}, the route table says ${JSON.stringify(access)}`);
  const open = Array.isArray(op.security) && op.security.length === 0;
  if ((r.access === 'public') !== open)
    problems.push(`${key}: ${r.access === 'public' ? 'public, so it must declare security: []' : 'needs a credential, so it must not declare security: []'}`);
}
for (const key of documented.keys()) {
  if (!served.has(key)) problems.push(`${key}: in openapi.yaml, not in the route table`);
}

if (problems.length) {
  console.error(`openapi.yaml and the route table differ (${problems.length}):`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(`openapi.yaml describes the ${served.size} routes of the route table, with their access.`);
