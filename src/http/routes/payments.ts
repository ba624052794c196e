import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { importResults, MAX_LINES } from '../../payments/reconciliation.ts';
import { actorOf } from '../auth.ts';
import { command } from '../idempotency.ts';
import { refusals } from '../schemas.ts';

// 发放 for admins (issue 10, docs/payments.md): importing the bank's result file (回盘文件).

const OUTCOMES = ['paid', 'failed', 'unchanged', 'error'] as const;

const lineSchema = z.object({
  line: z.number().int().describe('Line number in the file, from 1'),
  instructionId: z.string().describe('指令编号 as written in the line'),
  outcome: z.enum(OUTCOMES).describe('paid / failed: recorded now; unchanged: already so; error: not applied, see message'),
  message: z.string().describe('zh-CN'),
});

const resultSchema = z
  .object({
    importId: z.string(),
    duplicate: z.boolean().describe('True when this very file (SHA-256) was imported before: nothing changed, the first import’s result is returned'),
    fileName: z.string().nullable(),
    sha256: z.string(),
    importedAt: z.string(),
    counts: z.object({ paid: z.number().int(), failed: z.number().int(), unchanged: z.number().int(), error: z.number().int() }),
    lines: z.array(lineSchema),
  })
  .meta({ id: 'PaymentReconciliationResult' });

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;

  app.post(
    '/reconciliations',
    {
      config: { roles: ['admin' as const] },
      schema: {
        operationId: 'importPaymentResults',
        tags: ['admin'],
        summary: '导入银行回盘文件（发放对账）',
        description: `Imports the bank’s result file for payments of the caller’s region and below: one CSV line per instruction, \`指令编号,结果,银行流水号,失败原因\` (header optional; 结果 成功 or 失败; docs/payments.md). Each line marks its payment paid (PAYMENT_PAID) or failed (PAYMENT_FAILED, opening a 发放失败更正 task for the township window) with a hash-chained case event, in one transaction; lines that cannot apply (unknown or other region’s instruction, a superseded round, contradicting an earlier result, not sent yet, malformed) are reported with a zh-CN message and change nothing. Importing the same file again is a no-op answering the first result (\`duplicate: true\`). At most ${MAX_LINES} lines. Who: admins.`,
        body: z
          .strictObject({
            fileName: z.string().trim().min(1).max(200).optional().meta({ title: '文件名' }),
            content: z.string().min(1, '回盘文件为空').max(2_000_000).meta({ title: '回盘文件内容' }).describe('The file’s text (UTF-8 CSV)'),
          })
          .meta({ id: 'PaymentReconciliationImport' }),
        response: { 200: resultSchema, ...refusals('ROLE_REQUIRED', 'RECONCILIATION_IN_PROGRESS') },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 200, (trx) => importResults(engine, trx, actor, request.body));
    },
  );
};
export default routes;
