import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ROLES } from '../../../workflows/index.ts';
import * as cases from '../../db/cases.ts';
import * as tasks from '../../db/tasks.ts';
import { describeProcedure, type StateDescription } from '../../engine/describe.ts';
import { notFound } from '../../engine/errors.ts';
import { eventSchemaId, procedureSchemaPrefix } from '../../engine/views.ts';
import { actorOf } from '../auth.ts';
import { COMMAND_REFUSALS, COMPLETION_REFUSALS, EVENT_SENDER_ROLES, TASK_WORKER_ROLES, completionEnvelope, eventEnvelope } from '../contract/commands.ts';
import { documentAs } from '../contract/documented.ts';
import { procedureSchemas, standaloneJsonSchema } from '../contract/procedureSchemas.ts';
import { command } from '../idempotency.ts';
import { idParams, openMap, refusals, timeLimitSchema, transitionResultSchema, withActionSchemas } from '../schemas.ts';

const summary = z.object({ id: z.string(), version: z.number().int(), code: z.string().describe('Prefix of reference numbers'), name: z.string() }).meta({ id: 'ProcedureSummary' });

const taskMetaSchema = z
  .object({
    title: z.string(),
    department: z.string(),
    role: z.enum(ROLES),
    actions: z.array(z.string()),
    timeLimit: timeLimitSchema,
    overdueEvent: z.string().optional(),
    escalation: z.object({ warnRatio: z.number().optional(), redAfterWorkingDays: z.number().int().optional() }).optional(),
  })
  .meta({ id: 'TaskDefinition' });

const stateDescriptionSchema: z.ZodType<StateDescription> = z
  .object({
    id: z.string(),
    path: z.string(),
    type: z.enum(['atomic', 'compound', 'parallel', 'final', 'history']),
    stage: z.string(),
    task: taskMetaSchema.nullable(),
    clockStopped: z.boolean(),
    transitions: z.array(z.object({ event: z.string(), label: z.string(), targets: z.array(z.string()) })),
    get states() {
      return z.array(stateDescriptionSchema);
    },
  })
  .meta({ id: 'StateDescription', description: 'A state of the chart, with its task, transitions and children' }) as z.ZodType<StateDescription>;

const procedureSchema = summary
  .extend({
    legalBasis: z.array(z.string()),
    departments: z.record(z.string(), z.string()).describe('Department id → name'),
    materials: z.array(z.object({ code: z.string(), name: z.string(), required: z.boolean() }).meta({ id: 'Material' })),
    totalTimeLimit: timeLimitSchema,
    events: z.array(
      z
        .object({
          type: z.string(),
          label: z.string(),
          sentBy: z
            .union([
              z.object({
                role: z.enum(ROLES),
                department: z.string().describe("A department id, or 'accepting': the procedure's accepting window"),
              }),
              z.object({ system: z.literal(true) }),
            ])
            .nullable()
            .describe("Who may send it when no open task carries it (always within the sender's region); system: only the deadline engine"),
          dataSchema: openMap('JSON Schema (draft 2020-12) of the event data, as the sender writes it (the server checks it with this schema)'),
          dataSchemaRef: z.string().describe('The same schema as a component of this document'),
        })
        .meta({ id: 'EventDefinition' }),
    ),
    acceptingDepartments: z.array(z.string()),
    root: stateDescriptionSchema,
    diagram: z.string().describe('Mermaid stateDiagram-v2 source, labelled in Chinese'),
  })
  .meta({ id: 'Procedure' });

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;
  app.get(
    '/',
    {
      schema: {
        operationId: 'listProcedures',
        tags: ['procedures'],
        summary: '可办理事项列表',
        description: 'The procedures new cases can be opened for (latest definition versions). Who: any staff user.',
        response: { 200: z.array(summary) },
      },
    },
    async () => engine.registry.list().map((d) => ({ id: d.id, version: d.version, code: d.code, name: d.name })),
  );
  app.get(
    '/:id',
    {
      schema: {
        operationId: 'getProcedure',
        tags: ['procedures'],
        summary: '事项定义：状态、任务、部门、材料、时限',
        description: "A procedure's definition: states with their tasks and time limits, events with their data schemas, materials, diagram. Who: any staff user.",
        params: z.object({ id: z.string().max(64) }),
        response: { 200: procedureSchema, ...refusals('PROCEDURE_NOT_FOUND') },
      },
    },
    async (request) => {
      const def = engine.registry.latest(request.params.id);
      const described = describeProcedure(def);
      return {
        ...described,
        events: described.events.map((e) => ({
          ...e,
          dataSchema: standaloneJsonSchema(def.events[e.type].schema),
          dataSchemaRef: `#/components/schemas/${eventSchemaId(described.id, e.type)}`,
        })),
      };
    },
  );

  // Typed commands, one pair per procedure: the same event type (ACCEPT…) carries different data
  // in each procedure, so only a per-procedure body can enumerate types with their data (docs/api.md).
  for (const def of engine.registry.list()) {
    const prefix = procedureSchemaPrefix(def.id);
    const schemas = procedureSchemas(def);

    app.post(
      `/${def.id}/cases/:id/events`,
      {
        config: { roles: EVENT_SENDER_ROLES },
        schema: {
          operationId: `send${prefix}Event`,
          tags: ['cases'],
          summary: `${def.name}：向办件发送事件`,
          description:
            `sendCaseEvent for a ${def.name} case, with the body typed per event. A case of another procedure is not found here. ` +
            "Who: the holder (department, role, region) of an open task carrying the event, or the event's declared sender.",
          params: idParams,
          body: documentAs(eventEnvelope.clone(), schemas.event),
          response: { 200: transitionResultSchema, ...refusals(...COMMAND_REFUSALS) },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        const result = await command(db, request, reply, 200, async (trx) => {
          if ((await cases.getCase(trx, request.params.id))?.procedure_id !== def.id) throw notFound();
          return engine.sendEvent(trx, actor, request.params.id, request.body);
        }, request.body, { commitWithLastWrite: true });
        return withActionSchemas(def, result);
      },
    );

    app.post(
      `/${def.id}/tasks/:id/complete`,
      {
        config: { roles: TASK_WORKER_ROLES },
        schema: {
          operationId: `complete${prefix}Task`,
          tags: ['tasks'],
          summary: `${def.name}：办结任务`,
          description:
            `completeTask for a task of a ${def.name} case, with the body typed per outcome. A task of another procedure is not found here. ` +
            "Who: a user of the task's department, role and region (the claimant, if claimed).",
          params: idParams,
          body: documentAs(completionEnvelope.clone(), schemas.completion),
          response: { 200: transitionResultSchema, ...refusals(...COMPLETION_REFUSALS) },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        const result = await command(db, request, reply, 200, async (trx) => {
          if ((await tasks.getTask(trx, request.params.id))?.procedure_id !== def.id) throw notFound('任务');
          return engine.completeTask(trx, actor, request.params.id, request.body);
        }, request.body, { commitWithLastWrite: true });
        return withActionSchemas(def, result);
      },
    );
  }
};
export default routes;
