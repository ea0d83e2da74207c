/**
 * A client generated from the served document, as a partner would make one: openapi-typescript's
 * types and openapi-fetch, then the calls docs/api.md shows, typechecked. Each call must compile,
 * and a mistake a partner could make (a misspelt field, a missing one) must not.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { buildOpenApi } from '../api/openapi.js';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';

/** What docs/api.md tells a partner to send, through the generated client. */
const CLIENT = `
import createClient from 'openapi-fetch';
import type { components, paths } from './schema.js';

const api = createClient<paths>({ baseUrl: 'http://localhost:3000' });
const headers = { authorization: 'Bearer tok' };
type Step = components['schemas']['ConnectStep'];
const signed = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1700000000', 'webhook-signature': 'v1,x' };

export async function partner(): Promise<unknown[]> {
  const start = await api.POST('/v1/connections', {
    params: { query: { wait: '10' } },
    headers,
    body: {
      externalUserId: 'user-42',
      userName: 'Ada Lovelace',
      solutionId: 'sol-2',
      authSlots: ['salesforce', 'slack'],
      authTimeout: '24h',
      configValues: [
        { externalId: 'channel', value: '#sales' },
        { externalId: 'limits', value: { daily: [1, 2.5, null, true] } },
      ],
    },
  });
  if (start.error) {
    // invalid_input lists every problem; a generated client should know their shape.
    const { details } = start.error.error;
    const problems: components['schemas']['InputProblem'][] = Array.isArray(details) ? details : [];
    const allowed: components['schemas']['AllowedMethods'] | undefined = Array.isArray(details) ? undefined : details;
    return problems.length ? problems.map((p) => \`\${p.path}: \${p.message}\`) : [allowed?.allow];
  }
  const status: components['schemas']['ConnectionStatus'] = start.data;
  const id = status.connectionId;
  const urls = status.authSlots.map((slot) => (slot.state === 'pending' ? slot.url : slot.authId));
  const got = await api.GET('/v1/connections/{id}', { params: { path: { id } }, headers });
  const list = await api.GET('/v1/connections', {
    params: { query: { externalUserId: 'user-42', pageSize: 2, step: 'awaiting_auth' satisfies Step } },
    headers,
  });
  const reissued = await api.POST('/v1/connections/{id}/auth-urls/{externalAuthId}', {
    params: { path: { id, externalAuthId: 'slack' } },
    headers,
  });
  const cancelled = await api.DELETE('/v1/connections/{id}', { params: { path: { id } }, headers });
  const byConnection = await api.POST('/v1/webhooks/auth-completed', {
    params: { header: signed },
    body: { connectionId: id, externalAuthId: 'slack', authId: '9d8e' },
  });
  const byInstance = await api.POST('/v1/webhooks/auth-completed', {
    params: { header: signed },
    body: { solutionInstanceId: 'a1b2', externalAuthId: 'slack', authId: '9d8e' },
  });
  const accepted: true | undefined = byConnection.data?.accepted;
  return [
    urls,
    got.data?.error?.type,
    got.data?.deadline,
    list.data?.nextPageToken,
    list.data?.connections[0]?.authSlots[0]?.authId,
    reissued.data?.url,
    cancelled.data?.cancelRequested,
    accepted,
    byInstance.error?.error.code,
  ];
}

export async function mistakes(): Promise<void> {
  // @ts-expect-error authSlots is required
  await api.POST('/v1/connections', { headers, body: { externalUserId: 'u', userName: 'n', solutionId: 's' } });
  await api.POST('/v1/webhooks/auth-completed', {
    params: { header: signed },
    // @ts-expect-error a misspelt field
    body: { connectionId: 'c', externalAuthid: 'slack', authId: 'x' },
  });
  await api.POST('/v1/webhooks/auth-completed', {
    params: { header: signed },
    // @ts-expect-error neither connectionId nor solutionInstanceId
    body: { externalAuthId: 'slack', authId: 'x' },
  });
}
`;

test('a client generated with openapi-typescript and openapi-fetch makes the documented calls', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'openapi-client-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // The document as GET /openapi.json serves it.
  const served = JSON.parse(JSON.stringify(buildOpenApi())) as Parameters<typeof openapiTS>[0];
  writeFileSync(join(dir, 'schema.ts'), astToString(await openapiTS(served)));
  writeFileSync(join(dir, 'client.ts'), CLIENT);
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const program = ts.createProgram([join(dir, 'client.ts')], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
  });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file
      ? `${d.file.fileName.slice(dir.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
      : '';
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  assert.deepEqual(problems, []);
});
