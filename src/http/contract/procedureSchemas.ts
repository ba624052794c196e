import { z } from 'zod';
import { applicantSchema, type ProcedureDefinition } from '../../../workflows/index.ts';
import { eventSchemaId, procedureSchemaPrefix } from '../../engine/views.ts';
import { SERVICE_OUTCOMES, serviceSchemaId, type ServiceOutcome } from '../../engine/serviceEvents.ts';

/**
 * Request schemas derived from the procedure definitions, built from the very zod objects the
 * engine validates with (`applicantSchema`, `def.applicationSchema`, `def.events[type].schema`).
 * Those objects are registered in zod's global registry under stable ids, so the document names
 * them (#/components/schemas/SocialAssistance_ACCEPT) and a task action can point at its schema.
 */

/** The version a sender saw; the same field object in every envelope and every documented branch. */
export const expectedVersionField = z.number().int().min(1).describe('The case version you saw; stale → 409 VERSION_CONFLICT');
const optionalExpectedVersion = expectedVersionField.optional();

/** Registers `schema` itself (no clone) under `id`; a schema already named keeps its first name. */
function named(schema: z.ZodType, id: string): string {
  const existing = z.globalRegistry.get(schema)?.id;
  if (typeof existing === 'string') return existing;
  z.globalRegistry.add(schema, { ...(z.globalRegistry.get(schema) ?? {}), id });
  return id;
}

/** Events a person may send (the deadline engine's own events are never accepted over HTTP). */
export const personEvents = (def: ProcedureDefinition) =>
  Object.entries(def.events).filter(([, spec]) => !(spec.sentBy && 'system' in spec.sentBy));

/** Every event some task of the chart offers as an outcome, in chart order. */
export function taskOutcomes(def: ProcedureDefinition): string[] {
  const found = new Set<string>();
  const walk = (node: any) => {
    for (const a of (node.meta?.task?.actions as string[] | undefined) ?? []) found.add(a);
    for (const child of Object.values((node.states ?? {}) as Record<string, unknown>)) walk(child);
  };
  walk(def.machine.root);
  return [...found].filter((type) => Object.hasOwn(def.events, type));
}

export interface ProcedureSchemas {
  openCase: z.ZodObject;
  /** Body of POST /api/procedures/{procedure}/cases/{id}/events, discriminated on `type`. */
  event: z.ZodType;
  /** Body of POST /api/procedures/{procedure}/tasks/{id}/complete, discriminated on `outcome`. */
  completion: z.ZodType;
}

// Built once per definition object: tests build many apps in one process, and ids must stay unique.
const cache = new WeakMap<ProcedureDefinition, ProcedureSchemas>();

/** `data` is optional exactly when the schema accepts `{}` (the engine parses `data ?? {}`). */
function dataField(schema: z.ZodType) {
  return schema.safeParse({}).success ? schema.optional() : schema;
}

export function procedureSchemas(def: ProcedureDefinition): ProcedureSchemas {
  const hit = cache.get(def);
  if (hit) return hit;
  const prefix = procedureSchemaPrefix(def.id);
  named(applicantSchema, 'Applicant');
  named(def.applicationSchema, `${prefix}_Application`);
  for (const [type, spec] of Object.entries(def.events)) named(spec.schema, eventSchemaId(def.id, type));

  const eventBranches = personEvents(def).map(([type, spec]) =>
    z.object({ type: z.literal(type).describe(spec.label), data: dataField(spec.schema), expectedVersion: expectedVersionField }),
  );
  const outcomes = taskOutcomes(def);
  const completionBranches = outcomes.map((type) =>
    z.object({ outcome: z.literal(type).describe(def.events[type].label), data: dataField(def.events[type].schema), expectedVersion: optionalExpectedVersion }),
  );
  // 好差评 整改 / 回访 tasks exist on every procedure's cases (serviceEvents.ts, docs/ratings.md).
  for (const [type, spec] of Object.entries(SERVICE_OUTCOMES) as Array<[ServiceOutcome, (typeof SERVICE_OUTCOMES)[ServiceOutcome]]>) {
    named(spec.schema, serviceSchemaId(type));
    completionBranches.push(z.object({ outcome: z.literal(type).describe(spec.label), data: spec.schema, expectedVersion: optionalExpectedVersion }));
  }
  const built: ProcedureSchemas = {
    openCase: z
      .object({ procedureId: z.literal(def.id).describe(def.name), applicant: applicantSchema, application: def.applicationSchema })
      .meta({ id: `Open${prefix}Case`, description: `Opening a ${def.name} case` }),
    event: z
      .discriminatedUnion('type', eventBranches as unknown as [z.ZodObject, ...z.ZodObject[]])
      .meta({ id: `${prefix}EventCommand`, description: `An event of ${def.name} with its data` }),
    completion: z
      .discriminatedUnion('outcome', completionBranches as unknown as [z.ZodObject, ...z.ZodObject[]])
      .meta({ id: `${prefix}TaskCompletion`, description: `A task outcome of ${def.name} with its data` }),
  };
  cache.set(def, built);
  return built;
}

const openCaseCache = new Map<string, z.ZodType>();

/** Body of POST /api/cases as documented: one branch per procedure, discriminated on procedureId. */
export function openCaseUnion(defs: ProcedureDefinition[]): z.ZodType {
  const key = defs.map((d) => `${d.id}@${d.version}`).join(',');
  const hit = openCaseCache.get(key);
  if (hit) return hit;
  const union = z
    .discriminatedUnion('procedureId', defs.map((d) => procedureSchemas(d).openCase) as [z.ZodObject, ...z.ZodObject[]])
    .meta({ id: 'OpenCaseRequest' });
  openCaseCache.set(key, union);
  return union;
}

/**
 * A schema as standalone JSON Schema (draft 2020-12, as a sender writes it: io input), inline:
 * zod would otherwise move a schema registered under an id into `$defs` behind a `$ref`.
 */
export function standaloneJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const withoutIds = {
    get: (s: z.ZodType) => {
      const meta = z.globalRegistry.get(s);
      if (!meta) return undefined;
      const { id: _id, ...rest } = meta;
      return rest;
    },
    has: (s: z.ZodType) => z.globalRegistry.has(s),
    _idmap: new Map(),
  };
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', metadata: withoutIds as unknown as typeof z.globalRegistry }) as Record<string, unknown>;
}
