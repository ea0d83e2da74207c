/**
 * At start, the worker and the API look for the saga's search attributes in the namespace: without
 * them every start and lookup fails, and the log should say so before the first request does.
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

/**
 * Logs, as an error, what `searchAttributeProblems` finds. Never throws: a server that will not list
 * them (a key without operator rights, Temporal still starting) is no reason to stop.
 */
export async function warnOfSearchAttributes(
  connection: ListingConnection,
  namespace: string,
  logger: Logger,
): Promise<void> {
  try {
    const problems = await connection.withDeadline(Date.now() + LIST_TIMEOUT_MS, () =>
      searchAttributeProblems(connection.operatorService, namespace),
    );
    if (problems.length === 0) return;
    logger.error(
      { namespace, problems },
      `Temporal namespace ${namespace} is not set up for the saga (${problems.join(', ')}): starts and ` +
        'lookups fail until deploy/setup-search-attributes.sh creates them (README, Troubleshooting)',
    );
  } catch (err) {
    logger.debug({ err: { message: (err as Error).message } }, 'could not list the search attributes');
  }
}
