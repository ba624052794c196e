import { getTask } from '../db/tasks.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';

/**
 * The one logger configuration of the service (main.ts) and of the tests that read its output.
 * Logs never carry request bodies, tokens or passwords, and every logged URL is redacted: query
 * values of secret-like parameters (the tracking `code`, tokens), and anything that looks like a
 * resident ID number or a mobile phone number anywhere in the path or query.
 */
export const REDACTED = '[REDACTED]';

const SECRET_PARAM = /^(code|token|access_?token|password|passwd|secret|key|api_?key|sig|signature|otp)$/i;
// 18-digit resident ID (last may be X), 15-digit old ID, mainland mobile number; not inside a longer digit run.
const PERSONAL = /(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15}|1[3-9][0-9]{9})(?![0-9Xx])/g;

function decode(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    return part;
  }
}

/** One path segment or query value: unchanged unless its decoded text holds personal data. */
function redactPart(raw: string): string {
  const text = decode(raw);
  PERSONAL.lastIndex = 0;
  if (!PERSONAL.test(text)) return raw;
  return encodeURIComponent(text.replace(PERSONAL, REDACTED)).replaceAll('%5BREDACTED%5D', REDACTED);
}

export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q)).split('/').map(redactPart).join('/');
  if (q < 0) return path;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return redactPart(pair);
      const name = pair.slice(0, eq);
      return `${redactPart(name)}=${SECRET_PARAM.test(decode(name)) ? REDACTED : redactPart(pair.slice(eq + 1))}`;
    })
    .join('&');
  return `${path}?${query}`;
}

const SECRET_IN_TEXT = /([?&](?:code|token|access_?token|password|secret|key|sig|signature|otp)=)[^&\s"']*/gi;

/** Free text (a log message such as Fastify's "Route GET:<url> not found"): the same redaction, by pattern. */
export function redactText(text: string): string {
  return text.replace(SECRET_IN_TEXT, `$1${REDACTED}`).replace(PERSONAL, REDACTED);
}

type LoggerOptions = Exclude<FastifyServerOptions['logger'], boolean | undefined>;

export function loggerOptions(level: string, stream?: { write(msg: string): void }): LoggerOptions {
  return {
    level,
    ...(stream ? { stream } : {}),
    // Tokens and passwords never reach the log, whatever else logs a request.
    redact: ['req.headers.authorization', 'req.headers.cookie', 'req.body.password'],
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? redactText(a) : a)) as Parameters<typeof method>);
      },
    },
    serializers: {
      // Fastify's request serializer, with the URL redacted.
      req(req: FastifyRequest) {
        return {
          method: req.method,
          url: redactUrl(req.url),
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket ? req.socket.remotePort : undefined,
        };
      },
    },
  };
}

/**
 * Adds `userId` (after authentication) and `caseId` (once the route names a case) to the
 * request's logger, so that every later line of the request — its own logs, errors and Fastify's
 * "request completed" — carries them beside `reqId`. Ids only: never a name or a number a person
 * could be found by. Fastify's "incoming request" line precedes authentication and has `reqId`.
 */
export function installLogBindings(app: FastifyInstance): void {
  const bind = (request: FastifyRequest, reply: FastifyReply, bindings: Record<string, string>) => {
    request.log = request.log.child(bindings);
    reply.log = request.log;
  };
  // Registered after installAuth: request.actor is set by then.
  app.addHook('onRequest', async (request, reply) => {
    if (request.actor?.id) bind(request, reply, { userId: request.actor.id });
  });
  app.addHook('preHandler', async (request, reply) => {
    const url = request.routeOptions.url ?? '';
    const id = (request.params as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string') return;
    if (url.startsWith('/api/cases/:id')) bind(request, reply, { caseId: id });
    else if (url.startsWith('/api/tasks/:id')) {
      // A task names its case: one primary-key read, so a task command's lines carry the case too.
      const row = await getTask(app.deps.db, id).catch(() => undefined);
      if (row?.case_id) bind(request, reply, { caseId: row.case_id });
    }
  });
  // Opening a case: the id exists only in the answer.
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.method === 'POST' && request.routeOptions.url === '/api/cases' && reply.statusCode === 201 && typeof payload === 'string' && payload.length < 4096) {
      try {
        const id = (JSON.parse(payload) as { id?: unknown }).id;
        if (typeof id === 'string') bind(request, reply, { caseId: id });
      } catch {
        // not JSON: nothing to bind
      }
    }
    return payload;
  });
}
