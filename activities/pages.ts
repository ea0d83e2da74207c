/**
 * Reading a Tray search through its pages. Tray may page any list, answer "not found" for an empty
 * one, or ignore the cursor; every search ends, and none takes a cut-off list for the whole.
 */
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import { isTrayFailure } from './tray-errors.js';

export interface PageInfo {
  hasNextPage?: boolean | null;
  endCursor?: string | null;
}

/** What a page held for the search: where the next one starts, and whether it brought anything new. */
export interface PageRead {
  pageInfo?: PageInfo | null;
  /** False for a page of what earlier pages held: a Tray that ignores the cursor sends it again. */
  brought?: boolean;
}

/**
 * Asks for pages (`fetch`, with the cursor after the last) and hands each to `read`, until one says
 * there is no next page, brings nothing new, repeats its cursor, or `maxPages` were read. A first
 * page answered "not found" is an empty list; a later one (an expired cursor) fails the search,
 * because the pages before it are not the whole list.
 */
export async function readPages<D>(
  maxPages: number,
  fetch: (after: string | undefined) => Promise<D>,
  read: (data: D) => PageRead,
): Promise<void> {
  let after: string | undefined;
  for (let page = 0; page < maxPages; page += 1) {
    const data = await fetch(after).catch((error: unknown) => {
      if (page === 0 && isTrayFailure(error, TRAY_FAILURE_TYPES.notFound)) return undefined;
      throw error;
    });
    if (data === undefined) return;
    const { pageInfo, brought = true } = read(data);
    const next = pageInfo?.hasNextPage === true ? pageInfo.endCursor : undefined;
    if (!brought || typeof next !== 'string' || next === '' || next === after) return;
    after = next;
  }
}
