/**
 * A history as searchable text: its JSON plus every byte field (payload data, metadata) decoded as
 * UTF-8, because JSON.stringify shows a Uint8Array as numbers and would hide a token inside a payload.
 */
export function historyText(history: unknown): string {
  const parts: string[] = [];
  const seen = new Set<object>();
  const visit = (value: unknown): void => {
    if (value instanceof Uint8Array) {
      parts.push(new TextDecoder().decode(value));
      return;
    }
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    for (const child of Object.values(value)) visit(child);
  };
  visit(history);
  return [JSON.stringify(history), ...parts].join('\n');
}

/** What of `secrets` and `patterns` the history holds anywhere, payload bytes included. */
export function secretsInHistory(history: unknown, secrets: string[], patterns: RegExp[]): string[] {
  const text = historyText(history);
  return [
    ...secrets.filter((secret) => secret !== '' && text.includes(secret)),
    ...patterns.flatMap((pattern) => text.match(new RegExp(pattern.source, 'g')) ?? []),
  ];
}
