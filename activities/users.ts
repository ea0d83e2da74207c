/**
 * Finding the Tray user of an externalUserId. Tray may hold several (docs/tray.md#duplicate-user-create)
 * and may page them, so every page is read before the fixed rule picks one.
 */
import { Context } from '@temporalio/activity';
import { FIND_USER } from './documents.js';
import { readPages, type PageInfo } from './pages.js';
import type { TraySession } from './tray-session.js';

interface FindUserData {
  users: {
    edges: { node: { id: string; externalUserId: string | null } }[];
    pageInfo?: PageInfo | null;
  };
}

type UserEdge = FindUserData['users']['edges'][number];

// One user has few duplicates; a Tray that pages them still ends here, never loops.
const MAX_PAGES = 10;

/** Every node Tray lists for `externalUserId`, through its pages, each once; empty when it answers "not found". */
async function listUsers(session: TraySession, externalUserId: string): Promise<UserEdge[]> {
  const edges = new Map<string, UserEdge>();
  await readPages(
    MAX_PAGES,
    (after) =>
      session.send<FindUserData>(
        FIND_USER,
        after === undefined ? { externalUserId } : { externalUserId, after },
        'master',
      ),
    (data) => {
      const before = edges.size;
      for (const edge of data.users.edges) edges.set(edge.node.id, edge);
      return { pageInfo: data.users.pageInfo, brought: edges.size > before };
    },
  );
  return [...edges.values()];
}

/**
 * The user's id. With several users for one externalUserId, always the smallest id, so every saga of
 * that user takes the same one whatever page Tray put it on.
 */
export async function findUserId(session: TraySession, externalUserId: string): Promise<string | undefined> {
  const edges = await listUsers(session, externalUserId);
  // A node that names another externalUserId is not this user. One that names none (the field is
  // nullable) is taken only when it is all Tray answered: an explicit match always wins.
  const named = edges.filter((edge) => edge.node.externalUserId === externalUserId);
  const unnamed = edges.length === 1 && edges[0]?.node.externalUserId == null ? edges : [];
  const ids = (named.length > 0 ? named : unnamed)
    .map((edge) => edge.node.id)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (ids.length > 1) {
    Context.current().log.warn('several Tray users have this externalUserId; taking the smallest id', {
      externalUserId,
      userIds: ids,
      userId: ids[0],
    });
  }
  return ids[0];
}
