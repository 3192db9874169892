// The configuration reference, from the one list of fields (assembly/plugin/config/schema.ts):
// reads the reference table of docs/configuration.md (the fields each row names, its default, its
// meaning) and renders deploy/higress/spec.yaml from the list and those meanings. `npm run spec` rewrites the
// file; tests/integration/config_reference.test.ts fails when either disagrees with the list.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { FIELDS, type Field } from '../assembly/plugin/config/schema.js';
import { ROOT } from './envoy_bin.js';

export const SPEC_FILE = path.join(ROOT, 'deploy/higress/spec.yaml');
export const REFERENCE_FILE = path.join(ROOT, 'docs/configuration.md');
/** Fields a configuration must give (when their object is given). */
const REQUIRED = new Set(['provider.apiTokens', 'redis.serviceName']);
/** Objects described once under `definitions` and referred to where they occur. */
const DEFINITIONS: Record<string, string> = { 'provider.apiTokens[]': 'key', 'provider.failover.failureConditions[]': 'rule', 'provider.groups.*': 'group' };

/** One row of the configuration reference table. */
export interface ReferenceRow { paths: string[]; dflt: string; meaning: string }

/** The rows of the `| field | default | meaning |` table in `page`. */
export function referenceRows(page: string): ReferenceRow[] {
  const start = page.indexOf('| field | default | meaning |');
  const rows: ReferenceRow[] = [];
  for (const line of page.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    // Cells are split at pipes that are not escaped (`outbound\|443\|\|name`).
    const cells = line.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim());
    const paths = [...cells[0].matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    rows.push({ paths, dflt: cells[1], meaning: cells[2] });
  }
  return rows;
}

/** A meaning cell as plain text: no backticks, links reduced to their text, escaped pipes plain. */
export function plainText(markdown: string): string {
  return markdown.replace(/\[([^\]]+)\]\([^)]+\)/g, '$1').replace(/`/g, '').replace(/\\\|/g, '|').replace(/\*\*/g, '').trim();
}

function meaningOf(rows: ReferenceRow[], f: Field): string | undefined {
  const row = rows.find((r) => r.paths.includes(f.path));
  return row ? plainText(row.meaning) : undefined;
}

type Schema = Record<string, unknown>;

function schemaOf(f: Field, rows: ReferenceRow[]): Schema {
  const out: Schema = {};
  switch (f.kind) {
    case 'boolean': out.type = 'boolean'; break;
    case 'integer': Object.assign(out, { type: 'integer', minimum: f.min, maximum: f.max }); break;
    case 'string': out.type = 'string'; break;
    case 'strings': case 'patterns': Object.assign(out, { type: 'array', items: { type: 'string' } }); break;
    case 'rules': Object.assign(out, { type: 'array', items: { $ref: '#/definitions/rule' } }); break;
    case 'tokens': Object.assign(out, { type: 'array', minItems: 1, items: { oneOf: [{ type: 'string', minLength: 1 }, { $ref: '#/definitions/key' }] } }); break;
    case 'objects': Object.assign(out, { type: 'array', items: { $ref: '#/properties/provider' } }); break;
    case 'groups': Object.assign(out, { type: 'object', additionalProperties: { $ref: '#/definitions/group' } }); break;
    case 'object': Object.assign(out, objectSchema(f.path, rows)); break;
    default: throw new Error(`unknown kind ${f.kind} of ${f.path}`);
  }
  if (f.dflt.length > 0) out.default = JSON.parse(f.dflt);
  const meaning = meaningOf(rows, f);
  if (meaning) out.description = meaning;
  return out;
}

function objectSchema(object: string, rows: ReferenceRow[]): Schema {
  const fields = FIELDS.filter((f) => f.object === object);
  const required = fields.filter((f) => REQUIRED.has(f.path)).map((f) => f.key);
  return {
    type: 'object',
    ...(required.length > 0 ? { required } : {}),
    properties: Object.fromEntries(fields.map((f) => [f.key, schemaOf(f, rows)])),
  };
}

/** deploy/higress/spec.yaml as the list of fields and the reference's meanings make it. */
export function renderSpec(reference: string, version: string): string {
  const rows = referenceRows(reference);
  const spec = {
    apiVersion: '1.0.0',
    info: {
      category: 'ai',
      name: 'ai-token-failover',
      title: 'AI Token Failover',
      'x-title-i18n': { 'zh-CN': 'AI 令牌故障转移' },
      description: 'Keeps a pool of LLM provider API keys healthy: failing keys leave the pool, are probed and come back; failed requests are retried with another key.',
      version,
      contact: { name: 'ai-token-failover maintainers' },
    },
    spec: {
      phase: 'UNSPECIFIED_PHASE',
      priority: 90,
      configSchema: {
        openAPIV3Schema: {
          ...objectSchema('', rows),
          definitions: Object.fromEntries(Object.entries(DEFINITIONS).map(([object, name]) => [name, objectSchema(object, rows)])),
        },
      },
    },
  };
  return '# Higress plugin description of ai-token-failover, with the JSON schema of its configuration.\n' +
    '# Generated by `npm run spec` from assembly/plugin/config/schema.ts and docs/configuration.md; do not edit.\n' +
    YAML.stringify(spec, { lineWidth: 0 });
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version as string;
  fs.writeFileSync(SPEC_FILE, renderSpec(fs.readFileSync(REFERENCE_FILE, 'utf8'), version));
  console.log(`wrote ${path.relative(ROOT, SPEC_FILE)}`);
}
