import { enumLabel, resolve, type JsonSchema, type OpenApiDocument } from './schemaForm';

/*
 * The form of an event (an action on a case), generated from its data schema in the OpenAPI
 * document (`Action.dataSchema` is a pointer such as #/components/schemas/SocialAssistance_APPROVE).
 * Labels: a property's `title` first (every event field has one: test/contract/titles.test.ts),
 * then a small table of our own, then the name itself (never hidden).
 */

export type EventField =
  | { kind: 'text'; key: string; label: string; required: boolean; multiline: boolean; maxLength?: number; placeholder?: string }
  | { kind: 'number'; key: string; label: string; required: boolean; min?: number; max?: number }
  /** An integer amount in fen, entered in 元. */
  | { kind: 'money'; key: string; label: string; required: boolean; min?: number; max?: number }
  | { kind: 'boolean'; key: string; label: string; required: boolean }
  | { kind: 'choice'; key: string; label: string; required: boolean; options: Option[] }
  /** An array of enum values: a checkbox list. */
  | { kind: 'multi'; key: string; label: string; required: boolean; options: Option[] }
  /** An array of free text: one entry per line. */
  | { kind: 'lines'; key: string; label: string; required: boolean; minItems?: number };

export type Option = { value: string; label: string };

type Titled = JsonSchema & { title?: string; exclusiveMinimum?: number; minItems?: number };

/** Labels of names the case form's table does not have (event data). */
const EVENT_LABELS: Record<string, string> = {
  note: '备注',
  reason: '理由',
  details: '异议情况',
  remedy: '救济途径（不填则用默认告知）',
  missingMaterials: '缺少的材料（一次性告知）',
  referToMedicalAssistance: '同时转办医疗救助',
  verifiedMonthlyIncomeFen: '核实的家庭月收入',
  propertyWithinLimit: '家庭财产在规定标准内',
  visitors: '入户调查人员',
  findings: '调查情况',
  proposedMonthlyAmountFen: '拟保障金额（每月）',
  monthlyAmountFen: '核定保障金额（每月）',
  startMonth: '发放起始月份',
  period: '发放月份',
  branches: '需要办理的事项',
  task: '任务',
  items: '需补正的材料',
};

const typeOf = (s: JsonSchema) => (Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type);

export function labelOf(_procedureId: string, key: string, s?: Titled): string {
  return s?.title?.trim() || EVENT_LABELS[key] || key;
}

/** The schema a pointer (#/components/schemas/X) names. */
export function schemaAt(doc: OpenApiDocument, pointer: string): JsonSchema {
  const name = pointer.replace('#/components/schemas/', '');
  return resolve(doc, doc.components.schemas[name] ?? {});
}

/**
 * The fields of an event's data. `materials` names the material codes of enum arrays
 * (missingMaterials) so a clerk ticks names, not codes.
 */
export function eventFieldsOf(doc: OpenApiDocument, procedureId: string, schema: JsonSchema, materials: Array<{ code: string; name: string }>): EventField[] {
  const s = resolve(doc, schema);
  const required = new Set(s.required ?? []);
  const materialName = new Map(materials.map((m) => [m.code, m.name]));
  const optionsOf = (values: unknown[], of: JsonSchema): Option[] => (values as string[]).map((v) => ({ value: v, label: materialName.get(v) ?? enumLabel(of, v) }));
  const out: EventField[] = [];
  for (const [key, raw] of Object.entries(s.properties ?? {})) {
    const p = resolve(doc, raw) as Titled;
    const base = { key, label: labelOf(procedureId, key, p), required: required.has(key) };
    const items = p.items ? (resolve(doc, p.items) as Titled) : undefined;
    if (typeOf(p) === 'array' && items?.enum) out.push({ ...base, kind: 'multi', options: optionsOf(items.enum, items) });
    else if (typeOf(p) === 'array') out.push({ ...base, kind: 'lines', minItems: p.minItems });
    else if (p.enum?.every((v) => typeof v === 'string')) out.push({ ...base, kind: 'choice', options: optionsOf(p.enum, p) });
    else if (typeOf(p) === 'boolean') out.push({ ...base, kind: 'boolean' });
    else if (typeOf(p) === 'integer' || typeOf(p) === 'number') {
      const min = p.minimum ?? (p.exclusiveMinimum !== undefined ? p.exclusiveMinimum + 1 : undefined);
      const max = p.maximum !== undefined && p.maximum < Number.MAX_SAFE_INTEGER ? p.maximum : undefined;
      out.push(/Fen$/.test(key) ? { ...base, kind: 'money', min, max } : { ...base, kind: 'number', min, max });
    } else if (typeOf(p) === 'object') {
      // Nested data (funeral ACCEPT's optional branch corrections) is left to the application's own values.
      continue;
    } else {
      const period = p.pattern?.startsWith('^\\d{4}-(0[1-9]');
      out.push({ ...base, kind: 'text', multiline: (p.maxLength ?? 0) > 200, maxLength: p.maxLength, placeholder: period ? '例如 2026-04' : undefined });
    }
  }
  return out;
}

/** Starting values: empty text, unticked lists, switches off (or the schema's default). */
export function initialEventValues(fields: EventField[]): Record<string, unknown> {
  return Object.fromEntries(fields.map((f) => [f.key, f.kind === 'multi' ? [] : f.kind === 'boolean' ? false : f.kind === 'number' || f.kind === 'money' ? undefined : '']));
}

/**
 * The `data` to send: 元 → integer fen, one entry per line, empty optional text left out
 * (the schemas refuse '' where they allow absence); a required empty field is sent empty so
 * the server names it beside its field.
 */
export function eventBody(fields: EventField[], values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (key: string, v: unknown) => (out[key] = v);
  for (const f of fields) {
    const v = values[f.key];
    if (f.kind === 'money') {
      if (typeof v === 'number' && Number.isFinite(v)) put(f.key, Math.round(v * 100));
    } else if (f.kind === 'number') {
      if (typeof v === 'number' && Number.isFinite(v)) put(f.key, v);
    } else if (f.kind === 'text' || f.kind === 'choice') {
      const text = typeof v === 'string' ? v.trim() : '';
      if (text !== '' || f.required) put(f.key, text);
    } else if (f.kind === 'lines') {
      const list = String(v ?? '')
        .split(/[\n，,、]/)
        .map((x) => x.trim())
        .filter(Boolean);
      if (list.length || f.required) put(f.key, list);
    } else if (f.kind === 'boolean') put(f.key, Boolean(v));
    else put(f.key, v);
  }
  return out;
}

/** Event types whose reason the procedure requires: 退回 (RETURN_*) says so in its schema. */
export const isReturn = (type: string) => type.startsWith('RETURN_');
