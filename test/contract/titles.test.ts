import { beforeAll, describe, expect, it } from 'vitest';
import { procedureDefinitions } from '../../workflows/index.ts';
import { eventSchemaId, procedureSchemaPrefix } from '../../src/engine/views.ts';
import { personEvents } from '../../src/http/contract/procedureSchemas.ts';
import { caseFormOf, enumLabel, labelOf, type OpenApiDocument } from '../../web/src/forms/schemaForm.ts';
import { useTestApp } from '../support/app.ts';

// Issue 8: the document alone must let a client build and label the case form and every event
// form. Each field people fill in has a Chinese `title`; each enum has Chinese labels for its
// values (`x-enum-descriptions`, parallel to `enum`; docs/api.md "Labels for forms").

const ctx = useTestApp();
let doc: any;

beforeAll(async () => {
  const res = await ctx.app.inject({ method: 'GET', url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  doc = res.json();
});

const HAN = /\p{Script=Han}/u;
const SCHEMAS = '#/components/schemas/';

/**
 * Every property (nested objects and array items too) without a Chinese title and every enum
 * without a Chinese label per value, under `schema`, as "Component.path: problem".
 */
function unlabelled(document: any, schema: any, at: string, seen = new Set<string>()): string[] {
  if (!schema || typeof schema !== 'object') return [];
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.slice(SCHEMAS.length);
    if (seen.has(name)) return [];
    seen.add(name);
    const target = document.components.schemas[name];
    if (!target) return [`${at}: ${schema.$ref} is not in the document`];
    return unlabelled(document, target, name, seen);
  }
  const out: string[] = [];
  if (Array.isArray(schema.enum)) {
    const labels = schema['x-enum-descriptions'];
    if (!Array.isArray(labels) || labels.length !== schema.enum.length) out.push(`${at}: enum [${schema.enum.join(', ')}] has no x-enum-descriptions of the same length`);
    else schema.enum.forEach((v: unknown, i: number) => typeof labels[i] === 'string' && HAN.test(labels[i]) || out.push(`${at}: enum value ${String(v)} has no Chinese label`));
  }
  for (const [key, prop] of Object.entries<any>(schema.properties ?? {})) {
    const title = prop?.title ?? (prop?.$ref ? document.components.schemas[prop.$ref.slice(SCHEMAS.length)]?.title : undefined);
    if (typeof title !== 'string' || !HAN.test(title)) out.push(`${at}.${key}: no Chinese title`);
    out.push(...unlabelled(document, prop, `${at}.${key}`, seen));
  }
  if (schema.items) out.push(...unlabelled(document, schema.items, `${at}[]`, seen));
  for (const k of ['allOf', 'anyOf', 'oneOf']) for (const [i, part] of (schema[k] ?? []).entries()) out.push(...unlabelled(document, part, `${at}.${k}[${i}]`, seen));
  return out;
}

/** The part schemas a client fills in: applicant and application of each OpenCaseRequest branch, each event's and outcome's data. */
function filledIn(document: any): Array<{ at: string; schema: any }> {
  const branches = (name: string) => (document.components.schemas[name].oneOf ?? document.components.schemas[name].anyOf) as any[];
  const parts: Array<{ at: string; schema: any }> = [];
  for (const b of branches('OpenCaseRequest')) {
    const branch = b.$ref ? document.components.schemas[b.$ref.slice(SCHEMAS.length)] : b;
    parts.push({ at: 'applicant', schema: branch.properties.applicant }, { at: 'application', schema: branch.properties.application });
  }
  for (const def of procedureDefinitions) {
    const prefix = procedureSchemaPrefix(def.id);
    for (const union of [`${prefix}EventCommand`, `${prefix}TaskCompletion`]) {
      for (const b of branches(union)) parts.push({ at: `${union}.data`, schema: b.properties.data });
    }
  }
  return parts;
}

describe('Chinese labels in the OpenAPI document', () => {
  it('gives every applicant, application and event-data property a Chinese title, and every enum value a Chinese label', () => {
    const seen = new Set<string>();
    const problems = filledIn(doc).flatMap(({ at, schema }) => unlabelled(doc, schema, at, seen));
    expect(problems).toEqual([]);
    // The walk reached what it is meant to check, not an empty list.
    expect(seen).toContain('Applicant');
    for (const def of procedureDefinitions) {
      expect(seen).toContain(`${procedureSchemaPrefix(def.id)}_Application`);
      for (const [type] of personEvents(def)) expect(seen, `${def.id} ${type}`).toContain(eventSchemaId(def.id, type));
    }
  });

  it('names every event a person may send under its own component, which task actions point at', () => {
    for (const def of procedureDefinitions) {
      for (const [type] of personEvents(def)) expect(doc.components.schemas[eventSchemaId(def.id, type)], `${def.id} ${type}`).toBeDefined();
    }
  });

  it('fails on a field without a title and on an enum without labels', () => {
    const broken = {
      components: {
        schemas: {
          X_Application: {
            type: 'object',
            properties: {
              labelled: { type: 'string', title: '已命名' },
              bare: { type: 'integer' },
              kind: { type: 'string', title: '类型', enum: ['a', 'b'] },
              half: { type: 'string', title: '半', enum: ['a', 'b'], 'x-enum-descriptions': ['甲', 'b'] },
              nested: { type: 'object', title: '嵌套', properties: { inner: { type: 'boolean' } } },
              list: { type: 'array', title: '列表', items: { type: 'object', properties: { item: { type: 'string', title: 'item' } } } },
            },
          },
        },
      },
    };
    expect(unlabelled(broken, { $ref: '#/components/schemas/X_Application' }, 'application')).toEqual([
      'X_Application.bare: no Chinese title',
      'X_Application.kind: enum [a, b] has no x-enum-descriptions of the same length',
      'X_Application.half: enum value b has no Chinese label',
      'X_Application.nested.inner: no Chinese title',
      'X_Application.list[].item: no Chinese title',
    ]);
  });

  it('labels the materials codes with the materials names of the procedure', () => {
    for (const def of procedureDefinitions) {
      const app = doc.components.schemas[`${procedureSchemaPrefix(def.id)}_Application`];
      const items = (app.allOf?.[0] ?? app).properties.submittedMaterials.items;
      expect(items.enum).toEqual(def.materials.map((m) => m.code));
      expect(items['x-enum-descriptions']).toEqual(def.materials.map((m) => m.name));
    }
    const missing = doc.components.schemas.SocialAssistance_REQUEST_SUPPLEMENT.properties.missingMaterials;
    expect(missing.title).toBe('缺少的材料');
    expect(enumLabel(missing, 'verification-authorization')).toBe('家庭经济状况核对授权书');
  });

  it('keeps amounts in fen and says so, and reaches GET /api/procedures/{id} too', async () => {
    const approve = doc.components.schemas.SocialAssistance_APPROVE.properties;
    expect(approve.monthlyAmountFen).toMatchObject({ type: 'integer', title: '月保障金额', description: expect.stringContaining('单位：分') });
    expect(approve.startMonth).toMatchObject({ title: '发放起始月份', description: expect.stringContaining('YYYY-MM') });
    const clerk = await ctx.as('clerk.beishan');
    const res = await clerk.get('/api/procedures/social-assistance');
    expect(res.statusCode).toBe(200);
    const event = res.json().events.find((e: any) => e.type === 'PRELIMINARY_APPROVE');
    expect(event.dataSchema.properties.proposedMonthlyAmountFen.title).toBe('拟保障月金额');
  });

  it('the generated case form reads its labels from the document', () => {
    const form = caseFormOf(doc as OpenApiDocument, 'destitute-support');
    const byPath = Object.fromEntries([...form.applicant, ...form.application].map((f) => [f.path, f]));
    expect(byPath['applicant.idNumber'].label).toBe('身份证号码');
    expect(byPath['application.supportMode']).toMatchObject({
      kind: 'choice',
      label: '供养方式',
      options: [
        { value: 'home', label: '分散供养' },
        { value: 'institution', label: '集中供养' },
      ],
    });
    const funeral = caseFormOf(doc as OpenApiDocument, 'funeral');
    const deceased = funeral.application.find((f) => f.path === 'application.deceased');
    expect(deceased?.kind === 'group' && deceased.fields.map((f) => f.label)).toEqual(['逝者姓名', '逝者身份证号码', '死亡日期']);
    // A property without a title shows its name, never nothing; an unknown value shows itself.
    expect(labelOf({ type: 'string' }, 'newField')).toBe('newField');
    expect(enumLabel({ enum: ['a'] }, 'a')).toBe('a');
  });
});
