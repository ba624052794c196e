import type { z } from 'zod';

/**
 * Some route schemas are looser on the wire than in the document, on purpose:
 * - request envelopes whose parts the engine validates with the procedure's own schemas (so the
 *   refusal keeps its domain code, e.g. INVALID_EVENT_DATA with field paths), while the document
 *   shows the full typed union built from those very schema objects;
 * - error responses, whose serializer must never turn a refusal into a 500 because a code or a
 *   `details` shape is missing from the documented enum (test/contract keeps the enum complete).
 * `documentAs(wire, shown)` records which schema the OpenAPI transform renders instead.
 */
const shownAs = new WeakMap<z.ZodType, z.ZodType>();
const codesOf = new WeakMap<z.ZodType, readonly string[]>();

export function documentAs<T extends z.ZodType>(wire: T, shown: z.ZodType): T {
  shownAs.set(wire, shown);
  return wire;
}

/** The schema the document shows for a route schema (itself unless `documentAs` said otherwise). */
export function shown(schema: unknown): unknown {
  return (schema && typeof schema === 'object' && shownAs.get(schema as z.ZodType)) || schema;
}

/** Error codes a route's error-response schema stands for (see `refusals` in schemas.ts). */
export function withCodes<T extends z.ZodType>(schema: T, codes: readonly string[]): T {
  codesOf.set(schema, codes);
  return schema;
}

export function codesFor(schema: unknown): readonly string[] {
  return (schema && typeof schema === 'object' ? codesOf.get(schema as z.ZodType) : undefined) ?? [];
}
