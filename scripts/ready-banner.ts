/** The block `npm start` prints once everything runs: where each part is and how to try a saga. */
import { parseOrigins } from '../api/codec.js';

/** What the banner names. */
export interface ReadyInfo {
  apiPort: number;
  apiToken: boolean;
  temporalAddress: string;
  uiUrl?: string;
  namespace: string;
  emulatorUrl?: string;
  embeddedServer: boolean;
  metricsPort: number;
  /** npm start's state folder, as shown (relative to the project when inside it). */
  dataDir: string;
  /** The Temporal server's version, as it says it. */
  serverVersion?: string;
}

/** The banner's text, with `curl` hints that carry the bearer header when API_TOKEN is set. */
export function readyBlock(info: ReadyInfo): string {
  const api = `http://localhost:${info.apiPort}`;
  const auth = info.apiToken ? ` -H "Authorization: Bearer $API_TOKEN"` : '';
  const uiQuery = info.uiUrl
    ? `${info.uiUrl}/namespaces/${info.namespace}/workflows?query=${encodeURIComponent('TrayExternalUserId="user-1"')}`
    : undefined;
  const lines = [
    '',
    'connect-saga is running',
    `  API            ${api}   (OpenAPI: ${api}/openapi.json)`,
    info.uiUrl ? `  Temporal UI    ${info.uiUrl}` : `  Temporal UI    (the one of your server)`,
    `  Metrics        ${api}/metrics (API), http://localhost:${info.metricsPort}/metrics (worker)`,
    `  Temporal gRPC  ${info.temporalAddress}${info.serverVersion ? ` (server ${info.serverVersion})` : ''}${info.embeddedServer ? `   (state in ${info.dataDir}/temporal.db, server log ${info.dataDir}/temporal.log)` : ''}`,
    info.emulatorUrl
      ? `  Tray emulator  ${info.emulatorUrl}   (credentials in ${info.dataDir}/dev-secrets.json, state in ${info.dataDir}/emulator-state.json)`
      : '  Tray           the real one (TRAY_MASTER_TOKEN is set)',
    '',
    info.apiToken
      ? 'Start a saga for sol-1 (one auth slot, "slack"); in a shell where API_TOKEN is exported:'
      : 'Start a saga for sol-1 (one auth slot, "slack"):',
    `  curl -s -X POST ${api}/v1/connections${auth} -H 'content-type: application/json' \\`,
    `    -d '{"externalUserId":"user-1","userName":"Ada","solutionId":"sol-1","authSlots":["slack"]}'`,
    'Open the authSlots[0].url it returns and click Authorize; then',
    `  curl -s${auth} ${api}/v1/connections/connect:user-1:sol-1     # step: completed`,
    uiQuery
      ? `Find it in the Temporal UI: ${uiQuery}`
      : 'Find it in your Temporal UI by TrayExternalUserId="user-1".',
    'Ctrl-C stops everything.',
    '',
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * What npm start says about payload encryption. The dev server's Web UI is given /codec as its codec
 * endpoint but has no setting for a bearer header, so with a token on /codec only the CLI (or a proxy
 * that adds the header) decodes.
 */
export function encryptionNote(
  keyId: string,
  codecUrl: string,
  codecToken: 'CODEC_API_TOKEN' | 'API_TOKEN' | undefined,
  /** The Web UI's origin when CODEC_CORS_ORIGIN leaves it out (`uiOriginLeftOut`). */
  leftOut?: UiOriginLeftOut,
): string {
  const encrypted = `payloads are encrypted (key "${keyId}")`;
  if (codecToken === undefined && leftOut !== undefined) {
    // The browser refuses the answers, and the Web UI only says "Codec Server could not connect".
    const { origin, instead } = leftOut;
    return (
      `${encrypted}, but the Web UI at ${origin} cannot decode them: CODEC_CORS_ORIGIN leaves ` +
      `its origin out (${instead ? `open it at ${instead}, which the list allows, or ` : ''}add ${origin} to it, or unset it)`
    );
  }
  if (codecToken === undefined) return `${encrypted}; the Web UI decodes them at ${codecUrl}`;
  return (
    `${encrypted}; ${codecUrl} requires ${codecToken}, which the Web UI cannot send: decode with ` +
    `\`temporal workflow show -w ID -o json --codec-endpoint ${codecUrl} --codec-auth "Bearer $${codecToken}"\`` +
    ', or through a proxy of yours that adds the header'
  );
}

/** The Web UI's origin the banner links, left out of CODEC_CORS_ORIGIN; `instead`, its other name if allowed. */
export interface UiOriginLeftOut {
  origin: string;
  instead?: string;
}

/** The dev server's Web UI origin (as the banner links it) when `corsOrigins` leaves it out. */
export function uiOriginLeftOut(
  corsOrigins: string | undefined,
  uiPort: number,
): UiOriginLeftOut | undefined {
  const origin = `http://localhost:${uiPort}`;
  const other = `http://127.0.0.1:${uiPort}`;
  // The API's own reading of the list (a list it refuses stops npm start before this).
  const parsed = parseOrigins(corsOrigins ?? '');
  const allowed = 'value' in parsed ? parsed.value : [];
  if (allowed.includes(origin)) return undefined;
  return allowed.includes(other) ? { origin, instead: other } : { origin };
}
