import { z } from 'zod';

/**
 * Every `code` the server can answer, with its status. The error schema enumerates them, and
 * test/contract/error-codes.test.ts fails when a `DomainError(…)` in src/ uses a code not listed
 * here. Codes marked (agreed) are those issue 13 adds; Fastify's own client errors appear with
 * their `FST_ERR_(CTP_)` prefix removed (src/http/errors.ts).
 */
export const ERROR_CODES = {
  // 400
  BAD_REQUEST: [400, 'Malformed request (generic)'],
  BAD_URL: [400, 'The URL is not valid'],
  EMPTY_JSON_BODY: [400, 'Content-Type is application/json but the body is empty'],
  INVALID_JSON_BODY: [400, 'The body is not valid JSON'],
  INVALID_CONTENT_LENGTH: [400, 'The body size does not match Content-Length'],
  INVALID_ENCODING: [400, 'The body is not valid UTF-8 (agreed)'],
  INVALID_IDEMPOTENCY_KEY: [400, 'Idempotency-Key is not 1–200 visible ASCII characters'],
  // 401
  UNAUTHENTICATED: [401, 'No valid session token'],
  INVALID_CREDENTIALS: [401, 'Wrong username or password'],
  // 403
  ROLE_REQUIRED: [403, 'The caller lacks the role this operation needs'],
  ACCOUNT_DISABLED: [403, 'Right password, but the account is disabled (agreed)'],
  NOT_PERMITTED: [403, 'The caller may not send this event or manage this region'],
  NOT_YOUR_DEPARTMENT: [403, 'The step belongs to another department, role or region'],
  NOT_ACCEPTING_DEPARTMENT: [403, "The clerk's department does not accept this procedure"],
  NOT_ENTITLED: [403, "The caller's post does not need the full personal data"],
  METRICS_FORBIDDEN: [403, 'GET /metrics from outside loopback without METRICS_TOKEN'],
  // 404
  NOT_FOUND: [404, 'No such case, task or resource visible to the caller (a malformed id too)'],
  PROCEDURE_NOT_FOUND: [404, 'No such procedure'],
  TRACKING_NOT_FOUND: [404, 'Unknown reference or wrong tracking code (indistinguishable)'],
  ROUTE_NOT_FOUND: [404, 'No such endpoint'],
  NOTICE_NOT_ISSUED: [404, 'The case has no document of this kind (no 补正 notice, not refused)'],
  // 408
  REQUEST_TIMEOUT: [408, 'The request (headers or body) did not arrive in time; the connection is closed'],
  // 409
  VERSION_CONFLICT: [409, 'The case changed since the caller read it (details: expected/current version)'],
  TASK_NOT_OPEN: [409, 'The task is already completed or cancelled'],
  TASK_CLAIMED_BY_OTHER: [409, 'Another user has claimed the task'],
  TASK_NOT_CLAIMED: [409, 'Releasing a task nobody has claimed'],
  ALREADY_RATED: [409, 'That stage of the case is rated already (once per stage)'],
  NOT_YET_DECIDED: [409, 'Rating the decision of a case not decided yet'],
  CLAIM_REQUIRED: [409, 'Delegating a task the caller has not claimed (claim it first)'],
  EVENT_NOT_ALLOWED: [409, 'The current state does not accept this event (details: allowedEvents)'],
  EVENT_REFUSED: [409, "The chart's rules refuse the event in this situation (details: allowedEvents)"],
  CASE_CLOSED: [409, 'The case is finished'],
  ALREADY_PAID: [409, 'This month is already paid'],
  CALENDAR_YEAR_MISSING: [409, 'The working-day calendar of a needed year is not loaded'],
  CANNOT_DISABLE_SELF: [409, 'An admin tried to disable their own account'],
  USERNAME_TAKEN: [409, 'Creating a user: the username exists already'],
  CASE_BUSY: [409, 'Another command holds the case; retry after Retry-After seconds (agreed)'],
  NOTICE_NOT_DEAD: [409, 'Retrying or discarding a citizen notice that is not dead-lettered'],
  INCIDENT_NOT_OPEN: [409, 'Retrying or resolving an incident that is resolved already'],
  PAYMENT_NOT_FAILED: [409, 'Correcting the account of a payment that is not failed'],
  RECONCILIATION_IN_PROGRESS: [409, 'The same result file is being imported by another request'],
  APPLICATION_NOT_PENDING: [409, 'The online application is not in the state this needs (a draft at 预审, or already submitted, accepted or returned)'],
  PHONE_CODE_EXPIRED: [409, 'No valid phone code: none sent, expired (10 minutes) or its 5 attempts used; ask for a new one'],
  LEAD_NOT_OPEN: [409, 'Closing or converting a 主动发现 lead that is already closed or converted'],
  // 413, 415
  BODY_TOO_LARGE: [413, "The body exceeds 256 KiB (the endpoint's smaller limit where it has one: 16 KiB to start an online application)"],
  INVALID_MEDIA_TYPE: [415, 'The body is not application/json'],
  // 422
  VALIDATION_FAILED: [422, 'Body, query or header fails its schema (details: field issues)'],
  INVALID_CHARACTERS: [422, 'Text PostgreSQL cannot store (NUL, unpaired surrogates)'],
  BODY_TOO_DEEP: [422, 'JSON nested too deeply or with too many nodes (agreed)'],
  IDEMPOTENCY_KEY_REUSED: [422, 'The Idempotency-Key was used for a different request'],
  INVALID_APPLICATION: [422, "Applicant or application fails the procedure's schema (details: field issues)"],
  UNKNOWN_PROCEDURE: [422, 'procedureId names no procedure'],
  INVALID_EVENT_DATA: [422, "The event's data fails its schema (details: field issues)"],
  INVALID_OUTCOME: [422, 'The outcome is not one of the task actions'],
  INVALID_ASSIGNEE: [422, 'Delegating or reassigning to someone who may not take the task: not an active user of its department, role and region, or its current assignee (details: field issues)'],
  WRONG_PASSWORD: [422, 'Changing the password: the current password is wrong (this session ends too)'],
  INVALID_CALENDAR: [422, 'The calendar year has wrong or duplicate dates (details: field issues)'],
  REPORT_MONTH_IN_FUTURE: [422, 'The report month has not begun yet'],
  UNKNOWN_DEFINITION_MIGRATION: [422, 'No mapping is declared from that definition version to that one for the procedure (docs/versioning.md)'],
  WRONG_PHONE_CODE: [422, 'The phone code is wrong (details: field issue with the attempts left)'],
  // 429, 431
  RATE_LIMITED: [429, 'Too many requests from this client address (Retry-After)'],
  TEMPORARILY_LOCKED: [429, 'Too many failures on this username or reference (Retry-After)'],
  HEADERS_TOO_LARGE: [431, 'The request headers exceed the server limit; the connection is closed'],
  // 500, 503
  INTERNAL_ERROR: [500, 'Unexpected failure'],
  SERVICE_UNAVAILABLE: [503, 'Database unavailable, pool exhausted or request deadline passed (Retry-After, agreed)'],
  OVERLOADED: [503, 'Load shedding: event-loop delay, heap or RSS past its limit (Retry-After; docs/operations.md)'],
  NOT_READY: [503, 'GET /readyz: not ready (details: ReadinessReport with reasons)'],
  METRICS_UNAVAILABLE: [503, 'GET /metrics: the cluster primary did not answer with the other service processes\' metrics (SERVICE_PROCESSES)'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof ERROR_CODES;
export const errorCodeList = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];
export const statusOf = (code: string): number | undefined => (ERROR_CODES as Record<string, readonly [number, string]>)[code]?.[0];

// The four agreed shapes of `details`.
export const fieldIssueSchema = z
  .object({ path: z.string().describe('Dotted path of the field, e.g. applicant.idNumber or body.expectedVersion'), message: z.string().describe('zh-CN') })
  .meta({ id: 'FieldIssue' });
export const retryAfterDetailsSchema = z.object({ retryAfterSeconds: z.number().int().min(0) }).meta({ id: 'RetryAfterDetails' });
export const allowedEventsDetailsSchema = z
  .object({ allowedEvents: z.array(z.string()).describe('Event types the case accepts now') })
  .meta({ id: 'AllowedEventsDetails' });
export const versionConflictDetailsSchema = z
  .object({ expectedVersion: z.number().int(), currentVersion: z.number().int() })
  .meta({ id: 'VersionConflictDetails' });

/** The error body as the document shows it (the wire schema in errors.ts is deliberately looser). */
export const documentedErrorSchema = z
  .object({
    code: z.enum(errorCodeList).describe('Stable machine-readable code; the table in docs/api.md and each operation\'s x-error-codes list them'),
    message: z.string().describe('Human-readable message (zh-CN), to show as it is'),
    details: z
      .union([z.array(fieldIssueSchema), retryAfterDetailsSchema, allowedEventsDetailsSchema, versionConflictDetailsSchema])
      .optional()
      .describe('Field issues (422), retry hint (409 CASE_BUSY, 429, 503), allowed events (409), or version conflict (409)'),
  })
  .meta({ id: 'Error' });
