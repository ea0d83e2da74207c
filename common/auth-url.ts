/** The end user's auth dialog URL, built the same way by the activities and the workflow. Workflow-safe. */

/** The dialog host (region, white label or emulator) and the partner's embedded id. */
export interface AuthDialog {
  baseUrl: string;
  embeddedId: string;
}

/** The dialog URL for one slot of one instance with a one-time authorization code (docs/tray.md). */
export function authDialogUrl(
  dialog: AuthDialog,
  solutionInstanceId: string,
  externalAuthId: string,
  code: string,
): string {
  const path = [dialog.embeddedId, solutionInstanceId, externalAuthId].map(encodeURIComponent);
  return `${dialog.baseUrl}/external/auth/create/${path.join('/')}?code=${encodeURIComponent(code)}`;
}
