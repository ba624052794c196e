/*
 * A form generated from the OpenAPI document: the OpenCaseRequest branch of a procedure names
 * its Applicant and <Procedure>_Application schemas, and each property becomes a field, labelled
 * with its `title` (enum values with `x-enum-descriptions`). The server checks the same schemas
 * (docs/api.md), and its 422 field paths name these fields.
 */

export type JsonSchema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  title?: string;
  description?: string;
  /** The Chinese labels of `enum`, in the same order (docs/api.md, "Labels for forms"). */
  'x-enum-descriptions'?: string[];
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
};

export type OpenApiDocument = { components: { schemas: Record<string, JsonSchema> } };

export type Field =
  | { kind: 'text'; path: string; label: string; required: boolean; multiline: boolean; inputType: 'text' | 'date' | 'tel'; maxLength?: number }
  | { kind: 'number'; path: string; label: string; required: boolean; min?: number; max?: number; integer: boolean }
  /** An integer amount in fen, entered in 元. */
  | { kind: 'money'; path: string; label: string; required: boolean; min?: number; max?: number }
  | { kind: 'boolean'; path: string; label: string; required: boolean }
  | { kind: 'choice'; path: string; label: string; required: boolean; options: Array<{ value: string; label: string }> }
  | { kind: 'materials'; path: string; label: string; required: boolean }
  | { kind: 'group'; path: string; label: string; required: boolean; fields: Field[] };

export function resolve(doc: OpenApiDocument, schema: JsonSchema): JsonSchema {
  let s = schema;
  for (let i = 0; s.$ref && i < 10; i++) {
    const name = s.$ref.replace('#/components/schemas/', '');
    s = { ...doc.components.schemas[name], ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$ref')) };
  }
  // zod's refinements render as allOf around the object: the object holds the fields.
  if (s.allOf?.length) return s.allOf.reduce<JsonSchema>((acc, part) => ({ ...acc, ...resolve(doc, part) }), { ...s, allOf: undefined });
  return s;
}

/** What a person reads for property `name`: its `title`, else the name itself (a field is never left unlabelled). */
export function labelOf(schema: JsonSchema | undefined, name: string): string {
  return schema?.title?.trim() || name;
}

/**
 * The label of one value of an enum schema (or of an array of them): `x-enum-descriptions` at the
 * value's position; `oneOf: [{ const, title }]` is read too. An unknown value shows itself.
 */
export function enumLabel(schema: JsonSchema | undefined, value: unknown): string {
  const s = schema?.enum ? schema : schema?.items?.enum ? schema.items : schema;
  const i = s?.enum?.indexOf(value) ?? -1;
  const label = i >= 0 ? s?.['x-enum-descriptions']?.[i] : undefined;
  const alternative = (s?.oneOf ?? s?.anyOf)?.find((o) => o.const === value)?.title;
  return label || alternative || String(value);
}

const typeOf = (s: JsonSchema) => (Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type);

function fieldOf(doc: OpenApiDocument, path: string, raw: JsonSchema, required: boolean, part: string): Field {
  const s = resolve(doc, raw);
  const name = path.split('.').at(-1)!;
  const label = labelOf(s, name);
  const full = `${part}.${path}`;
  if (typeOf(s) === 'array' && name === 'submittedMaterials') return { kind: 'materials', path: full, label, required };
  if (s.enum && s.enum.every((v) => typeof v === 'string')) {
    return { kind: 'choice', path: full, label, required, options: (s.enum as string[]).map((v) => ({ value: v, label: enumLabel(s, v) })) };
  }
  switch (typeOf(s)) {
    case 'object':
      return { kind: 'group', path: full, label, required, fields: fieldsOf(doc, s, part, path) };
    case 'boolean':
      return { kind: 'boolean', path: full, label, required };
    case 'integer':
    case 'number':
      if (/Fen$/.test(name)) return { kind: 'money', path: full, label, required, min: s.minimum, max: s.maximum };
      return { kind: 'number', path: full, label, required, min: s.minimum, max: s.maximum, integer: typeOf(s) === 'integer' };
    default:
      return {
        kind: 'text',
        path: full,
        label,
        required,
        multiline: (s.maxLength ?? 0) > 200,
        inputType: s.format === 'date' ? 'date' : name === 'phone' ? 'tel' : 'text',
        maxLength: s.maxLength,
      };
  }
}

function fieldsOf(doc: OpenApiDocument, schema: JsonSchema, part: string, prefix = ''): Field[] {
  const s = resolve(doc, schema);
  const required = new Set(s.required ?? []);
  return Object.entries(s.properties ?? {}).map(([key, prop]) => fieldOf(doc, prefix ? `${prefix}.${key}` : key, prop, required.has(key), part));
}

export interface CaseForm {
  applicant: Field[];
  application: Field[];
}

/** The fields of opening a case of `procedureId`, from the document's OpenCaseRequest union. */
export function caseFormOf(doc: OpenApiDocument, procedureId: string): CaseForm {
  const union = resolve(doc, doc.components.schemas.OpenCaseRequest);
  const branches = (union.oneOf ?? union.anyOf ?? []).map((b) => resolve(doc, b));
  const branch = branches.find((b) => resolve(doc, b.properties?.procedureId ?? {}).const === procedureId);
  if (!branch?.properties) throw new Error(`OpenCaseRequest has no branch for ${procedureId}`);
  return {
    applicant: fieldsOf(doc, branch.properties.applicant, 'applicant'),
    application: fieldsOf(doc, branch.properties.application, 'application'),
  };
}

/** The empty value a field starts with. */
export function initialValues(fields: Field[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const key = f.path.split('.').at(-1)!;
    out[key] = f.kind === 'group' ? initialValues(f.fields) : f.kind === 'boolean' ? false : f.kind === 'materials' ? [] : f.kind === 'text' || f.kind === 'choice' ? '' : undefined;
  }
  return out;
}

/**
 * The message beside a field for the service's. A required number or amount left blank is not
 * sent (toBody), and the service answers 此项为必填项 for it: beside the field it reads 请填写…,
 * naming the field, as a blank text field does.
 */
export function fieldMessage(field: { kind: string; label: string; required: boolean } | undefined, value: unknown, message: string): string {
  const blankNumber = (field?.kind === 'number' || field?.kind === 'money') && !(typeof value === 'number' && Number.isFinite(value));
  return field?.required && blankNumber ? `请填写${field.label}` : message;
}

/** A 422's field messages by path (`applicant.name`), each worded by fieldMessage against the values sent. */
export function caseFieldMessages(form: CaseForm, values: Record<string, unknown>, issues: Array<{ path: string; message: string }>): Record<string, string> {
  const fields = new Map<string, Field>();
  const index = (list: Field[]) => {
    for (const f of list) {
      fields.set(f.path, f);
      if (f.kind === 'group') index(f.fields);
    }
  };
  index([...form.applicant, ...form.application]);
  const out: Record<string, string> = {};
  for (const issue of issues) {
    const path = issue.path.replace(/^body\./, '');
    const value = path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], values);
    out[path] ??= fieldMessage(fields.get(path), value, issue.message);
  }
  return out;
}

/**
 * What the form sends: empty optional text left out (the schemas refuse '' where they allow
 * absence), 元 turned into integer fen, numbers left out when blank so the server names them.
 */
export function toBody(fields: Field[], values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const key = f.path.split('.').at(-1)!;
    const v = values[key];
    if (f.kind === 'group') out[key] = toBody(f.fields, (v ?? {}) as Record<string, unknown>);
    else if (f.kind === 'money') {
      if (typeof v === 'number' && Number.isFinite(v)) out[key] = Math.round(v * 100);
    } else if (f.kind === 'number') {
      if (typeof v === 'number' && Number.isFinite(v)) out[key] = v;
    } else if (f.kind === 'text' || f.kind === 'choice') {
      const text = typeof v === 'string' ? v.trim() : '';
      if (text !== '' || f.required) out[key] = text;
    } else out[key] = v;
  }
  return out;
}
