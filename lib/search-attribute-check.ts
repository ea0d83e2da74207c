/**
 * At start, the worker and the API look for the saga's search attributes in the namespace: without
 * them every start and lookup fails, and the log should say so before the first request does. A
 * process started before they were created (a pod up before the set-up Job ran) looks again now and
 * then until they are there, and says so, so its log does not keep calling the namespace broken.
 */
import proto from '@temporalio/proto';
import type { Logger } from 'pino';
import { SEARCH_ATTRIBUTE_NAMES } from '../common/messages.js';

const KEYWORD = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

interface OperatorService {
  listSearchAttributes(request: { namespace: string }): Promise<{
    customAttributes?: { [name: string]: proto.temporal.api.enums.v1.IndexedValueType } | null;
  }>;
}

/** A client `Connection` or a worker's `NativeConnection`. */
interface ListingConnection {
  operatorService: OperatorService;
  withDeadline<R>(deadline: number, fn: () => Promise<R>): Promise<R>;
}

const LIST_TIMEOUT_MS = 5_000;

/** The saga's search attributes the namespace lacks, or holds as another type than Keyword. */
export async function searchAttributeProblems(
  operator: OperatorService,
  namespace: string,
): Promise<string[]> {
  const { customAttributes } = await operator.listSearchAttributes({ namespace });
  const problems: string[] = [];
  for (const name of SEARCH_ATTRIBUTE_NAMES) {
    const type = customAttributes?.[name];
    if (type === undefined || type === null) problems.push(`${name} is missing`);
    else if (type !== KEYWORD) problems.push(`${name} is not Keyword`);
  }
  return problems;
}

/** How often a process that found the namespace not set up looks again. */
export const RECHECK_MS = 30_000;

/**
 * Logs, as an error, what `searchAttributeProblems` finds; resolves to what it found (undefined: the
 * server would not list them). Never throws: a server that will not list them (a key without
 * operator rights, Temporal still starting) is no reason to stop.
 */
export async function warnOfSearchAttributes(
  connection: ListingConnection,
  namespace: string,
  logger: Logger,
): Promise<string[] | undefined> {
  const problems = await listProblems(connection, namespace, logger);
  if (problems === undefined || problems.length === 0) return problems;
  logger.error(
    { namespace, problems },
    `Temporal namespace ${namespace} is not set up for the saga (${problems.join(', ')}): starts and ` +
      'lookups fail until deploy/setup-search-attributes.sh creates them (README, Troubleshooting)',
  );
  return problems;
}

async function listProblems(
  connection: ListingConnection,
  namespace: string,
  logger: Logger,
): Promise<string[] | undefined> {
  try {
    return await connection.withDeadline(Date.now() + LIST_TIMEOUT_MS, () =>
      searchAttributeProblems(connection.operatorService, namespace),
    );
  } catch (err) {
    logger.debug({ err: { message: (err as Error).message } }, 'could not list the search attributes');
    return undefined;
  }
}

/**
 * `warnOfSearchAttributes`, then, until the namespace is found set up, a quiet look every
 * `intervalMs`, its arrival logged once. A listing that fails (Temporal restarting, a slow answer)
 * is tried again too, and the first one that finds attributes missing is logged as at start.
 * Returns a function that stops it (at shutdown); its timer never keeps the process alive.
 */
export function watchSearchAttributes(
  connection: ListingConnection,
  namespace: string,
  logger: Logger,
  intervalMs = RECHECK_MS,
): () => void {
  let stopped = false;
  let warned = false;
  let timer: NodeJS.Timeout | undefined;
  const again = () => {
    if (stopped) return;
    timer = setTimeout(() => void look(), intervalMs);
    timer.unref();
  };
  const look = async () => {
    const problems = warned
      ? await listProblems(connection, namespace, logger)
      : await warnOfSearchAttributes(connection, namespace, logger);
    if (stopped) return;
    if (problems === undefined) return again();
    if (problems.length > 0) {
      warned = true;
      return again();
    }
    if (warned) {
      logger.info(
        { namespace },
        `Temporal namespace ${namespace} now has the saga's search attributes: starts and lookups work`,
      );
    }
  };
  void look();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
