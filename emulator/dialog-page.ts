/** The dialog's HTML pages: one small self-contained page per answer, every value escaped. */
import type { Response } from 'express';

/** `s` safe to put in HTML text or a quoted attribute. */
export const escapeHtml = (s: string) =>
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

/** Sends a page titled `title`; `body` is HTML the caller has escaped. */
export function sendPage(res: Response, status: number, title: string, body: string): void {
  res
    .status(status)
    .type('html')
    .send(page(title, `<h1>${escapeHtml(title)}</h1>${body}`));
}

export interface DialogError {
  status: number;
  title: string;
  message: string;
}

/** The dialog's error page for `e`, with its status. */
export function sendError(res: Response, e: DialogError): void {
  sendPage(res, e.status, e.title, `<p>${escapeHtml(e.message)}</p><p class="muted">Tray emulator</p>`);
}
