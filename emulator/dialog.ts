import express, { type Request, type Response, type Router } from 'express';
import { webhookRequest } from '../dev/webhook.js';
import { escapeHtml, sendError, sendPage, type DialogError } from './dialog-page.js';
import type { InstanceRecord, SolutionSeed } from './records.js';
import type { EmulatorStore } from './store.js';

interface DialogDeps {
  store: EmulatorStore;
  embeddedId: string;
  webhookUrl?: string;
  webhookSecret?: string;
  log: (line: string) => void;
}

interface ValidLink {
  code: string;
  instance: InstanceRecord;
  solution: SolutionSeed;
  slot: SolutionSeed['authSlots'][number];
}

/** Path of Tray's auth-only dialog, as the saga builds it. */
export const DIALOG_PATH = '/external/auth/create/:embeddedId/:solutionInstanceId/:externalAuthId';

const fail = (status: number, title: string, message: string) => ({ error: { status, title, message } });

/** What a dialog link points at, or the page that says why it cannot be used. */
function checkLink(deps: DialogDeps, req: Request, code: unknown): ValidLink | { error: DialogError } {
  const { embeddedId, solutionInstanceId, externalAuthId } = req.params as Record<string, string>;
  if (embeddedId !== deps.embeddedId)
    return fail(404, 'Unknown partner', 'This link does not belong to a known partner.');
  if (typeof code !== 'string' || code === '')
    return fail(400, 'Missing code', 'This link has no authorization code.');
  const record = deps.store.codes.get(code);
  if (!record) return fail(404, 'Invalid link', 'This authorization link is not valid. Ask for a new one.');
  if (record.usedAt !== undefined) {
    const message = 'This authorization link has already been used. Ask for a new one.';
    return fail(410, 'Link already used', message);
  }
  const instance = deps.store.instances.get(solutionInstanceId ?? '');
  if (!instance)
    return fail(404, 'Unknown integration', 'The integration this link points to does not exist.');
  if (record.userId !== instance.owner)
    return fail(403, 'Wrong user', 'This link was issued for a different user.');
  const solution = deps.store.solutions.get(instance.solutionId);
  const slot = solution?.authSlots.find((s) => s.externalId === externalAuthId);
  if (!solution || !slot)
    return fail(404, 'Unknown connection', `The integration has no connection '${externalAuthId}'.`);
  // Tray's auth-only dialog only works for solutions without config slots (docs/tray.md).
  if ((solution.configSlots ?? []).length > 0) {
    const message = `${solution.title} has config slots, which the auth-only dialog cannot fill.`;
    return fail(400, 'Configuration needed', message);
  }
  return { code, instance, solution, slot };
}

/** POST: consumes the code, creates the authentication and relays it to the partner's webhook. */
async function authorize(deps: DialogDeps, req: Request, res: Response): Promise<void> {
  const body = req.body as Record<string, unknown> | undefined;
  const c = checkLink(deps, req, body?.code ?? req.query.code);
  if ('error' in c) return sendError(res, c.error);
  // Consumed before any await, so a double submit cannot create two authentications.
  deps.store.spendCode(c.code);
  const authId = deps.store.createAuthentication(c.instance.owner, c.slot.serviceName);
  deps.log(
    `dialog: ${c.slot.serviceTitle} authorised for instance ${c.instance.id} slot ${c.slot.externalId}`,
  );

  const relay = await relayCompletion(deps, {
    solutionInstanceId: c.instance.id,
    externalAuthId: c.slot.externalId,
    authId,
  });
  if (!relay.ok) {
    deps.log(`dialog: relay failed: ${relay.reason}`);
    return sendError(res, {
      status: 502,
      title: 'Could not finish connecting',
      // A refusal (a 4xx such as 409: the connection ended or has its auth) is final: no retry helps.
      // Otherwise the link is spent, so trying again means a new link from the app (a reissue).
      message: relay.refused
        ? `${c.slot.serviceTitle} was authorised, but the app did not accept it: ${relay.reason}. Close this window.`
        : `${c.slot.serviceTitle} was authorised, but the app could not be told: ${relay.reason}. This link is used up: close this window and try again from the app, which gives a new link.`,
    });
  }
  const message = JSON.stringify({ type: 'tray.authpopup.finish', authId }).replace(/</g, '\\u003c');
  sendPage(
    res,
    200,
    'Connected — you can close this window',
    `<p>${escapeHtml(c.slot.serviceTitle)} is now connected to <strong>${escapeHtml(c.solution.title)}</strong>.</p>
<script>if (window.opener) window.opener.postMessage(${message}, '*');</script>`,
  );
}

/** The auth-only dialog: GET shows the consent page, POST consumes the code and relays the new auth. */
export function createDialogRouter(deps: DialogDeps): Router {
  const router = express.Router();

  router.get(DIALOG_PATH, (req, res) => {
    const c = checkLink(deps, req, req.query.code);
    if ('error' in c) return sendError(res, c.error);
    sendPage(
      res,
      200,
      `Connect ${c.slot.serviceTitle}`,
      `<p><strong>${escapeHtml(c.solution.title)}</strong> wants to use your <strong>${escapeHtml(c.slot.serviceTitle)}</strong> account.</p>
<form method="post"><input type="hidden" name="code" value="${escapeHtml(c.code)}"><button type="submit">Authorize</button></form>`,
    );
  });

  router.post(DIALOG_PATH, express.urlencoded({ extended: false, limit: '8kb' }), (req, res) =>
    authorize(deps, req, res),
  );

  return router;
}

/** Attempts of one relay, all within RELAY_BUDGET_MS: a webhook sender retries what may pass. */
const RELAY_ATTEMPTS = 3;
const RELAY_BUDGET_MS = 10_000;

/**
 * Sends the completed auth to the partner backend's webhook, signed the Standard Webhooks way. Like
 * a webhook sender, it sends the same message again (same webhook-id, so the receiver drops a
 * duplicate) when the connection failed or the receiver answered 429, 502, 503 or 504; any other
 * answer stands, so a receiver's bug still shows.
 */
async function relayCompletion(
  deps: DialogDeps,
  payload: { solutionInstanceId: string; externalAuthId: string; authId: string },
): Promise<{ ok: true } | { ok: false; reason: string; refused: boolean }> {
  if (!deps.webhookUrl) return { ok: true };
  const { headers, body } = webhookRequest(payload, deps.webhookSecret ? { secret: deps.webhookSecret } : {});
  const signal = AbortSignal.timeout(RELAY_BUDGET_MS);
  let reason = '';
  let refused = false;
  for (let attempt = 1; attempt <= RELAY_ATTEMPTS; attempt++) {
    let retryAfterMs = 500 * attempt;
    try {
      const res = await fetch(deps.webhookUrl, { method: 'POST', headers, body, signal });
      await res.arrayBuffer();
      if (res.ok) return { ok: true };
      reason = `the webhook answered HTTP ${res.status}`;
      if (![429, 502, 503, 504].includes(res.status)) {
        refused = res.status >= 400 && res.status < 500;
        break;
      }
      const after = Number(res.headers.get('retry-after'));
      if (after > 0) retryAfterMs = Math.min(after * 1000, 2000);
    } catch (e) {
      reason = `the webhook could not be reached (${e instanceof Error ? e.message : String(e)})`;
      if (signal.aborted) break;
    }
    if (attempt < RELAY_ATTEMPTS) {
      deps.log(`dialog: relay attempt ${attempt} failed (${reason}); sending it again`);
      await new Promise((resolve) => setTimeout(resolve, retryAfterMs));
    }
  }
  return { ok: false, reason, refused };
}
