/** Building blocks of the OpenAPI document shared by its parts. */
import type { COMPONENTS } from './openapi.js';

export type ComponentName = keyof typeof COMPONENTS;

export const ref = (name: ComponentName) => ({ $ref: `#/components/schemas/${name}` });
export const json = (name: ComponentName, description: string) => ({
  description,
  content: { 'application/json': { schema: ref(name) } },
});
export const error = (description: string) => json('Error', description);

/** Any route can fail unexpectedly; the error is logged and answered without internals. */
export const UNEXPECTED = { '500': error('Unexpected error (logged; the answer carries no internals)') };
