import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getRegion } from '../../db/regions.ts';
import { DomainError } from '../../engine/errors.ts';
import { listMappings, migrateDefinition } from '../../engine/commands/migrateDefinition.ts';
import { actorOf } from '../auth.ts';
import { command } from '../idempotency.ts';
import { refusals } from '../schemas.ts';

// Definition migration over HTTP (docs/versioning.md): the same plan / run as `npm run cases:migrate`.

const version = (title: string) => z.number().int().min(1).max(1_000_000).meta({ title });

const requestSchema = z
  .strictObject({
    procedure: z.string().trim().min(1).max(64).meta({ title: '事项', description: 'Procedure id, e.g. social-assistance' }),
    from: version('原流程版本'),
    to: version('目标流程版本'),
    dryRun: z.boolean().default(true).meta({ title: '仅预演（不写入）', description: 'true (the default): plan only, nothing is written' }),
  })
  .refine((b) => b.to > b.from, { path: ['to'], message: '目标版本须高于原版本' })
  .meta({ id: 'DefinitionMigrationRequest' });

const rowSchema = z
  .object({
    fromState: z.string().meta({ title: '原状态（路径）', description: "The case's active leaf states on the source version, joined with ' + '" }),
    fromStage: z.string().meta({ title: '原环节', description: 'The same state as staff read it: the stage of every active leaf (zh-CN)' }),
    toState: z.string().nullable().meta({ title: '目标状态（路径）', description: 'Where these cases go; null when refused' }),
    toStage: z.string().nullable().meta({ title: '目标环节', description: 'zh-CN; null when refused' }),
    cases: z.number().int().meta({ title: '办件数' }),
    refusedReason: z.string().nullable().meta({ title: '不能迁移的原因', description: 'zh-CN; null for mappable cases' }),
  })
  .meta({ id: 'DefinitionMigrationRow' });

const reportSchema = z
  .object({
    mappingId: z.string().meta({ title: '迁移规则', description: 'The declared mapping, recorded in each DEFINITION_MIGRATED event' }),
    procedureId: z.string().meta({ title: '事项' }),
    from: z.number().int().meta({ title: '原流程版本' }),
    to: z.number().int().meta({ title: '目标流程版本' }),
    dryRun: z.boolean().meta({ title: '仅预演' }),
    rows: z.array(rowSchema).meta({ title: '按状态统计' }),
    refused: z
      .array(
        z.object({
          caseId: z.string().meta({ title: '办件编号' }),
          reference: z.string().meta({ title: '受理编号' }),
          fromState: z.string().meta({ title: '原状态' }),
          reason: z.string().meta({ title: '原因' }),
        }),
      )
      .meta({ title: '不能迁移的办件', description: 'Untouched: they stay on the source version' }),
    busy: z
      .array(z.object({ caseId: z.string().meta({ title: '办件编号' }), reference: z.string().meta({ title: '受理编号' }), code: z.string().meta({ title: '原因代码' }) }))
      .meta({ title: '正被办理、本次未迁移的办件', description: 'Another command held the case (CASE_BUSY) or moved it (VERSION_CONFLICT); run again' }),
    totals: z
      .object({
        cases: z.number().int().meta({ title: '运行中的办件' }),
        mappable: z.number().int().meta({ title: '可迁移' }),
        refused: z.number().int().meta({ title: '不能迁移' }),
        migrated: z.number().int().meta({ title: '已迁移' }),
        busy: z.number().int().meta({ title: '正被办理' }),
      })
      .meta({ title: '合计' }),
  })
  .meta({ id: 'DefinitionMigrationReport' });

const mappingSchema = z
  .object({
    mappingId: z.string().meta({ title: '迁移规则' }),
    procedureId: z.string().meta({ title: '事项编号' }),
    procedureName: z.string().meta({ title: '事项' }),
    from: z.number().int().meta({ title: '原流程版本' }),
    to: z.number().int().meta({ title: '目标流程版本' }),
    summary: z.string().meta({ title: '变更内容', description: 'What the new version changed (English, for operators; docs/versioning.md)' }),
  })
  .meta({ id: 'DefinitionMapping' });

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;
  const topLevelAdmin = async (request: Parameters<typeof actorOf>[0]) => {
    const own = await getRegion(db, actorOf(request).regionCode);
    if (!own || own.parent_code) throw new DomainError('forbidden', 'NOT_PERMITTED', '仅最高一级行政区的管理员可迁移办理流程版本');
  };

  app.get(
    '',
    {
      config: { roles: ['admin'] },
      preValidation: topLevelAdmin,
      schema: {
        operationId: 'listDefinitionMappings',
        tags: ['admin'],
        summary: '可用的流程版本迁移规则',
        description: 'The declared mappings (procedure, from and to version, what changed) a migration can use (docs/versioning.md). Who: admins of a top-level region.',
        response: { 200: z.object({ items: z.array(mappingSchema) }).meta({ id: 'DefinitionMappingList' }), ...refusals('NOT_PERMITTED') },
      },
    },
    async () => ({ items: listMappings(engine) }),
  );

  app.post(
    '',
    {
      config: { roles: ['admin'] },
      // Authorization before validation: only an admin of a top-level region (definition
      // versions are the whole deployment's) gets as far as the body.
      preValidation: topLevelAdmin,
      schema: {
        operationId: 'migrateDefinition',
        tags: ['admin'],
        summary: '迁移运行中办件的流程版本（可预演）',
        description:
          "Moves the running cases of a procedure from one definition version to a newer one by the mapping declared next to the new chart (docs/versioning.md): `dryRun: true` (the default) writes nothing and returns the plan — per source state the number of cases and their target state, and the refused cases with reasons; `dryRun: false` migrates, in batches, each case in its own transaction under the case lock, writing one hash-chained DEFINITION_MIGRATED event per case and re-deriving its tasks and timers. Refused cases are untouched; cases busy with another command are listed and taken by the next run. Running it again migrates nothing twice. With an Idempotency-Key the first answer is replayed (the run itself is idempotent by construction). The caller's region and below. Who: admins of a top-level region.",
        body: requestSchema,
        response: { 200: reportSchema, ...refusals('NOT_PERMITTED', 'UNKNOWN_DEFINITION_MIGRATION') },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const b = request.body;
      const req = { procedureId: b.procedure, from: b.from, to: b.to, dryRun: b.dryRun, regionPrefix: actor.regionCode };
      // A dry run reads only, in one transaction; a run opens one transaction per case, so its
      // report is stored against the key afterwards.
      if (b.dryRun) return command(db, request, reply, 200, (trx) => migrateDefinition(engine, trx, actor, req));
      const report = await migrateDefinition(engine, db, actor, req);
      return command(db, request, reply, 200, async () => report);
    },
  );
};

export default routes;
