import type { OpenApiDocument } from './forms/schemaForm';

let documentPromise: Promise<OpenApiDocument> | null = null;

/**
 * The live OpenAPI document (GET /docs/json), fetched once: the case form is generated from the
 * schemas the server validates with, so a procedure added or changed on the server needs no UI
 * release.
 */
export function openApiDocument(): Promise<OpenApiDocument> {
  documentPromise ??= fetch('/docs/json', { headers: { accept: 'application/json' } }).then((res) => {
    if (!res.ok) throw new Error(`GET /docs/json: ${res.status}`);
    return res.json() as Promise<OpenApiDocument>;
  });
  documentPromise.catch(() => (documentPromise = null));
  return documentPromise;
}
