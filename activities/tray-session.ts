/**
 * How an activity talks to Tray: one request at a time, stopped when the activity is cancelled, as the
 * partner or as a user whose token comes from the per-process cache or the sealed token the workflow
 * passes, so a saga spends one `authorize` on any number of workers (docs/design.md). No plaintext
 * token leaves this module.
 */
import { Context } from '@temporalio/activity';
import { AUTHORIZE_USER } from './documents.js';
import type { AsUser, SealedUserToken } from '../common/activity-types.js';
import type { UserTokenCache } from './token-cache.js';
import type { TokenSealer } from './token-seal.js';
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import type { TrayAuth, TrayClient, Variables } from './tray-client.js';
import { failure, isTrayFailure } from './tray-errors.js';

export interface TraySession {
  /** Abandoned when the running activity is cancelled or times out. */
  send<T = unknown>(document: string, variables: Variables | undefined, auth: TrayAuth): Promise<T>;
  /** The user's token (cached, else one `authorize`), sealed for history. */
  prepareToken(userId: string): Promise<SealedUserToken>;
  /**
   * Calls as the user with the cached token, else the opened seal, else a fresh one. A token not
   * minted for this call that Tray refuses (expired early, revoked) is replaced and `call` made again.
   * When the token used is not the one in the seal passed (it did not open: a rotated master token,
   * an expiry), `resealed` gets it sealed afresh, for the workflow to hand to later activities.
   */
  asUser<T>(
    user: AsUser,
    call: (auth: TrayAuth) => Promise<T>,
    resealed?: (sealedToken: SealedUserToken) => void,
  ): Promise<T>;
}

/** A session over `tray` whose user tokens live in `tokens` and travel sealed by `sealer`. */
export function createTraySession(
  tray: TrayClient,
  tokens: UserTokenCache,
  sealer: TokenSealer,
): TraySession {
  function send<T = unknown>(document: string, variables: Variables | undefined, auth: TrayAuth): Promise<T> {
    const { cancellationSignal: signal, info } = Context.current();
    return tray.request<T>(document, variables, auth, {
      signal,
      attempt: info.attempt,
      ...(info.priority?.priorityKey !== undefined && { priority: info.priority.priorityKey }),
    });
  }

  async function mintToken(userId: string): Promise<string> {
    const data = await send<{ authorize?: { accessToken?: unknown } | null }>(
      AUTHORIZE_USER,
      { userId },
      'master',
    );
    const token = data.authorize?.accessToken;
    // Cached and sealed, an empty token would fail every later call as "refused": say what happened.
    if (typeof token !== 'string' || token.trim() === '') {
      throw failure(
        TRAY_FAILURE_TYPES.transient,
        'Tray AuthorizeUser: the answer carried no access token',
        false,
        {
          operation: 'AuthorizeUser',
          code: 'no_token',
        },
      );
    }
    return token;
  }

  const mint = (userId: string) => tokens.obtain(userId, () => mintToken(userId));

  return {
    send,
    async prepareToken(userId) {
      return sealer.seal(userId, (await mint(userId)).token);
    },
    async asUser({ userId, sealedToken }, call, resealed) {
      let minted = false;
      const first = await tokens.obtain(userId, () => {
        const opened = sealer.open(userId, sealedToken);
        if (opened !== undefined) return Promise.resolve(opened);
        minted = true;
        return mintToken(userId);
      });
      // A seal that did not open is replaced: else each worker running a later activity would spend an
      // `authorize` of its own.
      const reseal = (token: string) => {
        if (resealed && sealedToken !== undefined && sealer.open(userId, sealedToken) !== token) {
          resealed(sealer.seal(userId, token));
        }
      };
      try {
        const result = await call({ userToken: first.token });
        reseal(first.token);
        return result;
      } catch (error) {
        // Refused however Tray words it (401, 403, a forbidden or unauthenticated code or message).
        if (minted || !isTrayFailure(error, TRAY_FAILURE_TYPES.forbidden)) throw error;
        tokens.invalidate(userId, first.token);
        const fresh = await mint(userId);
        const result = await call({ userToken: fresh.token });
        reseal(fresh.token);
        return result;
      }
    },
  };
}
