import express, { type Request, type Response, type Router } from 'express';
import { webhookRequest } from '../dev/webhook.js';
import type { EmulatorStore, InstanceRecord, SolutionSeed } from './store.js';

interface DialogDeps {
  store: EmulatorStore;
  embeddedId: string;
  webhookUrl?: string;
  webhookSecret?: string;
  log: (line: string) => void;
}

type Checked =
  | { error: { status: number; title: string; message: string } }
  | {
      code: string;
      instance: InstanceRecord;
      solution: SolutionSeed;
      slot: SolutionSeed['authSlots'][number];
    };

/** Path of Tray's auth-only dialog, as the saga builds it. */
export const DIALOG_PATH = '/external/auth/create/:embeddedId/:solutionInstanceId/:externalAuthId';

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002;padding:2rem;max-width:26rem;width:100%}
h1{font-size:1.25rem;margin:0 0 1rem}p{color:#444;line-height:1.4}
button{background:#2f6fed;color:#fff;border:0;border-radius:6px;padding:.6rem 1.4rem;font-size:1rem;cursor:pointer}
.muted{color:#888;font-size:.85rem}
</style></head><body><main>${body}</main></body></html>`;
}

function sendPage(res: Response, status: number, title: string, body: string): void {
  res
    .status(status)
    .type('html')
    .send(page(title, `<h1>${escapeHtml(title)}</h1>${body}`));
}

function sendError(res: Response, e: { status: number; title: string; message: string }): void {
  sendPage(res, e.status, e.title, `<p>${escapeHtml(e.message)}</p><p class="muted">Tray emulator</p>`);
}

/** The auth-only dialog: GET shows the consent page, POST consumes the code and relays the new auth. */
export function createDialogRouter(deps: DialogDeps): Router {
  const { store, log } = deps;
  const router = express.Router();

  const check = (req: Request, code: unknown): Checked => {
    const { embeddedId, solutionInstanceId, externalAuthId } = req.params as Record<string, string>;
    if (embeddedId !== deps.embeddedId) {
      return {
        error: {
          status: 404,
          title: 'Unknown partner',
          message: 'This link does not belong to a known partner.',
        },
      };
    }
    if (typeof code !== 'string' || code === '') {
      return {
        error: { status: 400, title: 'Missing code', message: 'This link has no authorization code.' },
      };
    }
    const record = store.codes.get(code);
    if (!record) {
      return {
        error: {
          status: 404,
          title: 'Invalid link',
          message: 'This authorization link is not valid. Ask for a new one.',
        },
      };
    }
    if (record.usedAt !== undefined) {
      return {
        error: {
          status: 410,
          title: 'Link already used',
          message: 'This authorization link has already been used. Ask for a new one.',
        },
      };
    }
    const instance = store.instances.get(solutionInstanceId ?? '');
    if (!instance) {
      return {
        error: {
          status: 404,
          title: 'Unknown integration',
          message: 'The integration this link points to does not exist.',
        },
      };
    }
    if (record.userId !== instance.owner) {
      return {
        error: { status: 403, title: 'Wrong user', message: 'This link was issued for a different user.' },
      };
    }
    const solution = store.solutions.get(instance.solutionId);
    const slot = solution?.authSlots.find((s) => s.externalId === externalAuthId);
    if (!solution || !slot) {
      return {
        error: {
          status: 404,
          title: 'Unknown connection',
          message: `The integration has no connection '${externalAuthId}'.`,
        },
      };
    }
    // Tray's auth-only dialog only works for solutions without config slots (see NOTES.md).
    if ((solution.configSlots ?? []).length > 0) {
      return {
        error: {
          status: 400,
          title: 'Configuration needed',
          message: `${solution.title} has config slots, which the auth-only dialog cannot fill.`,
        },
      };
    }
    return { code, instance, solution, slot };
  };

  router.get(DIALOG_PATH, (req, res) => {
    const c = check(req, req.query.code);
    if ('error' in c) return sendError(res, c.error);
    sendPage(
      res,
      200,
      `Connect ${c.slot.serviceTitle}`,
      `<p><strong>${escapeHtml(c.solution.title)}</strong> wants to use your <strong>${escapeHtml(c.slot.serviceTitle)}</strong> account.</p>
<form method="post"><input type="hidden" name="code" value="${escapeHtml(c.code)}"><button type="submit">Authorize</button></form>`,
    );
  });

  router.post(DIALOG_PATH, express.urlencoded({ extended: false, limit: '8kb' }), async (req, res) => {
    const body = req.body as Record<string, unknown> | undefined;
    const c = check(req, body?.code ?? req.query.code);
    if ('error' in c) return sendError(res, c.error);
    // Consumed before any await, so a double submit cannot create two authentications.
    const record = store.codes.get(c.code);
    if (record) record.usedAt = Date.now();
    const authId = store.createAuthentication(c.instance.owner, c.slot.serviceName);
    log(`dialog: ${c.slot.serviceTitle} authorised for instance ${c.instance.id} slot ${c.slot.externalId}`);

    const relay = await relayCompletion(deps, {
      solutionInstanceId: c.instance.id,
      externalAuthId: c.slot.externalId,
      authId,
    });
    if (!relay.ok) {
      log(`dialog: relay failed: ${relay.reason}`);
      return sendError(res, {
        status: 502,
        title: 'Could not finish connecting',
        message: `${c.slot.serviceTitle} was authorised, but the app could not be told: ${relay.reason}. Close this window and try again.`,
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
  });

  return router;
}

/** Sends the completed auth to the partner backend's webhook, signed the Standard Webhooks way. */
async function relayCompletion(
  deps: DialogDeps,
  payload: { solutionInstanceId: string; externalAuthId: string; authId: string },
): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (!deps.webhookUrl) return { ok: true };
  const { headers, body } = webhookRequest(payload, deps.webhookSecret ? { secret: deps.webhookSecret } : {});
  try {
    const res = await fetch(deps.webhookUrl, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return res.ok ? { ok: true } : { ok: false, reason: `the webhook answered HTTP ${res.status}` };
  } catch (e) {
    return {
      ok: false,
      reason: `the webhook could not be reached (${e instanceof Error ? e.message : String(e)})`,
    };
  }
}
