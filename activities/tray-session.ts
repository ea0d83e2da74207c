/**
 * How an activity talks to Tray: one request at a time, stopped when the activity is cancelled, as the
 * partner or as a user whose token comes from the per-process cache, so a saga spends one `authorize`
 * rather than one per activity (docs/design.md). No token leaves this module.
 */
import { Context } from '@temporalio/activity';
import type { Variables } from 'graphql-request';
import { AUTHORIZE_USER } from './documents.js';
import type { UserTokenCache } from './token-cache.js';
import { trayErrorDetails, type TrayAuth, type TrayClient } from './tray-client.js';

export interface TraySession {
  /** Abandoned when the running activity is cancelled or times out. */
  send<T = unknown>(document: string, variables: Variables | undefined, auth: TrayAuth): Promise<T>;
  prepareToken(userId: string): Promise<void>;
  /** A cached token Tray refuses (expired early, revoked) is replaced and `call` made once more. */
  asUser<T>(userId: string, call: (auth: TrayAuth) => Promise<T>): Promise<T>;
}

/** A session over `tray` whose user tokens live in `tokens`. Call it only inside an activity. */
export function createTraySession(tray: TrayClient, tokens: UserTokenCache): TraySession {
  function send<T = unknown>(document: string, variables: Variables | undefined, auth: TrayAuth): Promise<T> {
    return tray.request<T>(document, variables, auth, { signal: Context.current().cancellationSignal });
  }

  async function mintToken(userId: string): Promise<string> {
    const data = await send<{ authorize: { accessToken: string } }>(AUTHORIZE_USER, { userId }, 'master');
    return data.authorize.accessToken;
  }

  const obtain = (userId: string) => tokens.obtain(userId, () => mintToken(userId));

  return {
    send,
    async prepareToken(userId) {
      await obtain(userId);
    },
    async asUser(userId, call) {
      const first = await obtain(userId);
      try {
        return await call({ userToken: first.token });
      } catch (error) {
        const code = trayErrorDetails(error)?.code;
        if (!first.cached || (code !== 'unauthorized' && code !== 'forbidden')) throw error;
        tokens.invalidate(userId, first.token);
        const fresh = await obtain(userId);
        return call({ userToken: fresh.token });
      }
    },
  };
}
