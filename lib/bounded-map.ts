/**
 * Sets `key` as the newest entry of `map` (a Map keeps insertion order) and drops the oldest while
 * the map holds more than `limit`: the caches of long-running processes stay bounded.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, limit: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > limit) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
}
