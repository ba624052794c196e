import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeTogether } from '../../src/db/batch.ts';
import { useTestApp, applicant, application } from '../support/app.ts';

// db/batch.ts runs a transition's writes as one statement of data-modifying CTEs: all of them or
// none, what they return readable, and a foreign key satisfied by a row of the same statement.
const ctx = useTestApp();

describe('writeTogether', () => {
  let caseId = '';
  let task: Record<string, unknown>;
  beforeAll(async () => {
    const clerk = await ctx.as('clerk.xixi');
    const res = await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application });
    expect(res.statusCode, res.body).toBe(201);
    caseId = res.json().id;
    task = await ctx.database.db('tasks').where({ case_id: caseId }).first();
  });

  it('runs several writes as one statement and returns what they return', async () => {
    const { db } = ctx.database;
    const statements: string[] = [];
    const listen = (q: { sql: string }) => statements.push(q.sql);
    db.on('query', listen);
    const id = randomUUID();
    const [row] = await db.transaction((trx) =>
      writeTogether(
        trx,
        [
          trx('tasks').insert({ ...task, id, time_limit: JSON.stringify(task.time_limit) }).returning('id'),
          // References the task inserted above, in the same statement.
          trx('timers').insert({ case_id: caseId, task_id: id, state_id: String(task.state_id), kind: 'warn', event_type: 'DEADLINE_WARNING', due_at: new Date(), created_at: new Date() }),
        ],
        'select (select id from w0) as task_id',
      ),
    );
    db.off('query', listen);
    expect(row.task_id).toBe(id);
    expect(statements.filter((s) => !/^(BEGIN|COMMIT)/i.test(s))).toHaveLength(1);
    expect(Number((await db('timers').where({ task_id: id }).count({ n: '*' }))[0].n)).toBe(1);
  });

  it('applies none of the writes when one fails', async () => {
    const { db } = ctx.database;
    const before = Number((await db('timers').where({ case_id: caseId }).count({ n: '*' }))[0].n);
    await expect(
      db.transaction((trx) =>
        writeTogether(trx, [
          trx('timers').insert({ case_id: caseId, task_id: null, state_id: 'x', kind: 'state', event_type: 'X', due_at: new Date(), created_at: new Date() }),
          // A task of no known id: the foreign key refuses the whole statement.
          trx('timers').insert({ case_id: caseId, task_id: randomUUID(), state_id: 'x', kind: 'warn', event_type: 'X', due_at: new Date(), created_at: new Date() }),
        ]),
      ),
    ).rejects.toThrow();
    expect(Number((await db('timers').where({ case_id: caseId }).count({ n: '*' }))[0].n)).toBe(before);
  });
});
