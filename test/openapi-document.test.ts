/**
 * The OpenAPI document as other tools read it: every pattern in a dialect each common regex engine
 * takes (a client generated in Python, Java or Go compiles them; ECMA without the u flag too), the
 * headers each answer carries, and the shapes the code really accepts and sends. The statuses each
 * route sends are checked against real answers in test/api-openapi.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { createApp } from '../api/app.js';
import { createLogger } from '../api/logging.js';
import { buildOpenApi } from '../api/openapi.js';
import { waitSchema } from '../api/schemas.js';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- the document is walked loosely */
const doc = buildOpenApi({ codec: true }) as any;

/** Every `pattern` keyword in the document, with where it is. */
function patterns(node: unknown, at = '#'): [string, string][] {
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === 'pattern' && typeof value === 'string'
      ? [[at, value] as [string, string]]
      : patterns(value, `${at}/${key}`),
  );
}

const operations = (): [string, string, any][] =>
  Object.entries(doc.paths as Record<string, any>).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => method !== 'parameters')
      .map(([method, operation]) => [path, method, operation] as [string, string, any]),
  );

describe('patterns every regex dialect takes', () => {
  const found = patterns(doc);

  test('the document has patterns, none with a Unicode property escape', () => {
    assert.ok(found.length >= 10, JSON.stringify(found));
    for (const [at, pattern] of found) {
      assert.doesNotMatch(pattern, /\\[pP]\{/, at);
      // The control characters as \x escapes in the pattern text, not as raw characters.
      const raw = [...pattern].filter((c) => c < ' ' || (c >= '\u007f' && c <= '\u009f'));
      assert.deepEqual(raw, [], at);
    }
  });

  test('each compiles without the u flag, and an id pattern still takes an emoji', () => {
    for (const [at, pattern] of found) {
      const re = new RegExp(pattern);
      if (pattern.includes('x00')) {
        assert.equal(re.test('Ada 😀'), true, `${at}: an emoji's surrogate pair must pass`);
        assert.equal(re.test('a\u0000b'), false, at);
        assert.equal(re.test('a\u0085b'), false, at);
      }
    }
  });

  // .ci/run's venv for kubernetes-validate carries a pinned jsonschema, whichever python3 is first on
  // PATH (pyenv's does not see Debian's python3-jsonschema); elsewhere the python3 on PATH.
  const venvPython = join(PROJECT_ROOT, '.tools', 'kubernetes-validate', 'bin', 'python');
  const pythonCmd = existsSync(venvPython) ? venvPython : 'python3';
  const python = spawnSync(pythonCmd, ['--version']).status === 0;
  const NO_JSONSCHEMA = 3;
  test('each compiles in Python, and every schema passes its meta-schema there', { skip: !python }, (t) => {
    // openapi-spec-validator and openapi-core read the document with `re` and `jsonschema`.
    const script = [
      'import json, re, sys',
      'doc = json.load(sys.stdin)',
      'for at, p in doc["patterns"]:',
      '    re.compile(p)',
      'try:',
      '    from jsonschema import Draft202012Validator as V',
      'except ImportError:',
      `    sys.exit(${NO_JSONSCHEMA})`,
      'for name, schema in doc["schemas"].items():',
      '    V.check_schema(schema, format_checker=V.FORMAT_CHECKER)',
    ].join('\n');
    const input = JSON.stringify({ patterns: found, schemas: doc.components.schemas });
    const run = spawnSync(pythonCmd, ['-c', script], { input, encoding: 'utf8' });
    // Without jsonschema the meta-schema half did not run: say so in the summary, not a silent pass.
    if (run.status === NO_JSONSCHEMA) {
      assert.ok(!process.env.CI, `CI is set but ${pythonCmd} has no jsonschema (see .ci/run)`);
      t.skip(`patterns compiled; ${pythonCmd} has no jsonschema, so the meta-schemas were not checked`);
      return;
    }
    assert.equal(run.status, 0, run.stderr);
  });
});

/**
 * Where an object or enum schema sits outside components.schemas: a client generator has to name
 * it after its place (`ErrorErrorDetailsType0Item`, `HealthzResponse200`). The branches of a
 * combinator on an object that lists its properties only narrow that object, and get no type.
 */
function inlineShapes(node: unknown, at = '#'): string[] {
  if (typeof node !== 'object' || node === null) return [];
  const schema = node as Record<string, unknown>;
  const shape = schema.type === 'object' || Array.isArray(schema.enum) || 'properties' in schema;
  const named = /^#\/components\/schemas\/[^/]+$/.test(at);
  const here = shape && !named && !Array.isArray(node) ? [at] : [];
  const narrowing = 'properties' in schema ? ['allOf', 'anyOf', 'oneOf'] : [];
  return [
    ...here,
    ...Object.entries(schema)
      .filter(([key]) => !narrowing.includes(key))
      .flatMap(([key, value]) => inlineShapes(value, `${at}/${key}`)),
  ];
}

test('every object and enum is a named component, so generated clients give them proper names', () => {
  assert.deepEqual(inlineShapes(doc), []);
  for (const name of ['ApiError', 'InputProblem', 'AllowedMethods', 'ConnectStep', 'AuthSlotState']) {
    assert.ok(doc.components.schemas[name], name);
  }
  // The probe answers and this document need a name too, but no codec schemas without the codec.
  assert.equal((buildOpenApi() as any).components.schemas.CodecPayloads, undefined);
});

describe('headers', () => {
  test('every answer of every operation documents x-request-id', () => {
    const responses = [
      ...operations().flatMap(([, , op]) => Object.values(op.responses ?? {})),
      ...Object.values(doc.components.responses),
    ] as any[];
    assert.ok(responses.length > 40);
    for (const response of responses) {
      assert.deepEqual(response.headers?.['x-request-id'], { $ref: '#/components/headers/RequestId' });
    }
    assert.equal(doc.components.headers.RequestId.required, true);
  });

  test('401 of the bearer check: WWW-Authenticate; 405: Allow; 503 of a Temporal call: Retry-After', () => {
    for (const [path, method, op] of operations()) {
      const where = `${method} ${path}`;
      const bearer = (op.security ?? []).some((s: object) => 'bearer' in s);
      if (op.responses['401']) {
        assert.equal(Boolean(op.responses['401'].headers['WWW-Authenticate']), bearer, where);
      }
      const busy = op.responses['503'];
      if (busy && path !== '/readyz') {
        assert.ok(busy.headers['Retry-After'], where);
        assert.match(busy.description, /temporal_busy/, where);
        assert.match(busy.description, /temporal_unavailable/, where);
      }
    }
    assert.ok(doc.components.responses.MethodNotAllowed.headers.Allow);
  });

  test('the webhook: its three headers described, its signature a security scheme', () => {
    const webhook = doc.paths['/v1/webhooks/auth-completed'].post;
    const params = Object.fromEntries(webhook.parameters.map((p: any) => [p.name, p]));
    assert.deepEqual(Object.keys(params).sort(), ['webhook-id', 'webhook-signature', 'webhook-timestamp']);
    assert.match(params['webhook-id'].description, /eventId/);
    assert.match(params['webhook-timestamp'].description, /Unix seconds/);
    assert.match(params['webhook-signature'].description, /HMAC-SHA256/);
    assert.deepEqual(webhook.security, [{ webhookSignature: [] }]);
    assert.match(doc.components.securitySchemes.webhookSignature.description, /Standard Webhooks/);
    assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
    assert.match(webhook.responses['503'].description, /webhook_not_configured/);
  });
});

describe('shapes the code accepts and sends', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(doc, 'openapi.json');
  const schema = (name: string) => ajv.getSchema(`openapi.json#/components/schemas/${name}`)!;

  test('the reissue reads no body, so it documents none and none of the body codes', () => {
    const reissue = doc.paths['/v1/connections/{id}/auth-urls/{externalAuthId}'].post;
    assert.equal(reissue.requestBody, undefined);
    assert.equal(reissue.responses['413'], undefined);
    assert.equal(reissue.responses['415'], undefined);
    assert.match(reissue.responses['503'].description, /saga_unresponsive/);
  });

  test('the webhook body names the saga one way or the other (anyOf), other keys allowed as the code does', () => {
    const webhook = schema('AuthCompletedWebhook');
    const base = { externalAuthId: 'slack', authId: 'a1' };
    assert.equal(webhook({ ...base, connectionId: 'connect:u:s' }), true);
    assert.equal(webhook({ ...base, solutionInstanceId: 'i-1' }), true);
    assert.equal(webhook({ ...base, connectionId: 'c', solutionInstanceId: 'i-1', relayed: 1 }), true);
    assert.equal(webhook(base), false);
    assert.equal(webhook({ ...base, connectionId: 'c\u0000' }), false);
  });

  test('list items carry no url; deadline is an RFC 3339 date-time', () => {
    const list = schema('ConnectionList');
    const item = (slot: object, deadline = '2026-11-26T16:00:00.000Z') => ({
      connections: [
        {
          connectionId: 'connect:u:s',
          runId: 'r',
          step: 'awaiting_auth',
          externalUserId: 'u',
          solutionId: 's',
          authSlots: [{ externalAuthId: 'slack', state: 'pending', ...slot }],
          deadline,
        },
      ],
    });
    assert.equal(list(item({})), true, JSON.stringify(list.errors));
    assert.equal(list(item({ url: 'https://dialog?code=x' })), false);
    assert.equal(list(item({}, 'tomorrow')), false);
    // The saga writes it with toISOString.
    assert.equal(list(item({}, new Date(Date.now() + 30 * 86_400_000).toISOString())), true);
    assert.equal(doc.components.schemas.ConnectionStatus.properties.deadline.format, 'date-time');
  });

  test('?wait documents the digits the code takes: 1e1 is refused by both', () => {
    const wait = doc.paths['/v1/connections'].post.parameters.find((p: any) => p.name === 'wait');
    const documented = new RegExp(wait.schema.pattern);
    for (const value of ['0', '10', '2.5', '030', '30']) {
      assert.equal(documented.test(value), true, value);
      assert.equal(waitSchema.safeParse(value).success, true, value);
    }
    for (const value of ['1e1', '-1', '+1', '.5', '1.', ' 1', '0x10', '']) {
      assert.equal(documented.test(value), false, JSON.stringify(value));
      assert.equal(waitSchema.safeParse(value).success, false, JSON.stringify(value));
    }
    assert.match(wait.description, /1e1/);
  });
});

test('the service routes document the JSON they answer, and it matches', async () => {
  // Readiness needs only DescribeNamespace to answer; no Temporal server is involved.
  const client = {
    options: { namespace: 'default' },
    withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn(),
    withMetadata: (_metadata: unknown, fn: () => Promise<unknown>) => fn(),
    workflowService: { describeNamespace: async () => ({}) },
  } as unknown as Client;
  const app = createApp({
    client,
    taskQueue: 'q',
    namespace: 'default',
    logger: createLogger({ level: 'silent' }),
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(doc, 'openapi.json');
  for (const path of ['/healthz', '/readyz', '/openapi.json']) {
    const res = await fetch(`${base}${path}`);
    assert.equal(res.status, 200, path);
    assert.match(String(res.headers.get('content-type')), /^application\/json/, path);
    const documented = doc.paths[path].get.responses['200'].content?.['application/json'];
    assert.ok(documented?.schema, `${path}: its 200 documents no JSON body`);
    const pointer = `openapi.json#/paths/${path.replaceAll('/', '~1')}/get/responses/200/content/application~1json/schema`;
    const validate = ajv.getSchema(pointer)!;
    assert.equal(validate(await res.json()), true, `${path}: ${JSON.stringify(validate.errors)}`);
  }
});

test('the local server entry names the API_PORT the API listens on, 3000 by default', () => {
  assert.equal(doc.servers[0].url, '/');
  assert.equal(doc.servers[1].url, 'http://localhost:3000');
  assert.equal((buildOpenApi({ localPort: 3600 }) as any).servers[1].url, 'http://localhost:3600');
});

test('every operation states its security; the unauthenticated ones say so with an empty list', () => {
  // Linters (Redocly's recommended rules, Spectral's) take an operation without `security` for an
  // oversight; the probes, /metrics, this document and CORS preflights are open on purpose.
  const open = ['/healthz get', '/readyz get', '/metrics get', '/openapi.json get'];
  for (const [path, method, operation] of operations()) {
    if (method === 'parameters') continue;
    assert.ok(Array.isArray(operation.security), `${method} ${path}: no security`);
    const isOpen = open.includes(`${path} ${method}`) || method === 'options';
    assert.equal(
      operation.security.length === 0,
      isOpen,
      `${method} ${path}: ${JSON.stringify(operation.security)}`,
    );
  }
});

test('a route without its token set documents the bearer as optional; one with it, as required', async () => {
  const security = (served: any) =>
    Object.fromEntries(
      Object.entries(served.paths as Record<string, any>).flatMap(([path, item]) =>
        Object.entries(item)
          .filter(([method]) => method !== 'parameters' && method !== 'options')
          .map(([method, operation]) => [`${method} ${path}`, JSON.stringify((operation as any).security)]),
      ),
    );
  const served = async (deps: { apiToken?: string; codecApiToken?: string }) => {
    const app = createApp({
      client: {} as Client,
      taskQueue: 'q',
      namespace: 'default',
      logger: createLogger({ level: 'silent' }),
      ...(deps.apiToken !== undefined ? { apiToken: deps.apiToken } : {}),
      codecServer: {
        codec: {} as never,
        corsOrigins: [],
        ...(deps.codecApiToken !== undefined ? { codecApiToken: deps.codecApiToken } : {}),
      },
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/openapi.json`);
      return security(await res.json());
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  };
  const required = JSON.stringify([{ bearer: [] }]);
  const optional = JSON.stringify([{ bearer: [] }, {}]);
  const none = await served({});
  const both = await served({ apiToken: 'a' });
  const codecOnly = await served({ codecApiToken: 'c' });
  for (const key of ['post /v1/connections', 'get /v1/connections/{id}', 'post /codec/decode']) {
    assert.equal(none[key], optional, `no token: ${key}`);
    assert.equal(both[key], required, `API_TOKEN: ${key}`);
  }
  assert.equal(codecOnly['get /v1/connections'], optional);
  assert.equal(codecOnly['post /codec/encode'], required);
  for (const doc of [none, both, codecOnly]) {
    assert.equal(doc['post /v1/webhooks/auth-completed'], JSON.stringify([{ webhookSignature: [] }]));
    assert.equal(doc['get /healthz'], '[]');
  }
});
