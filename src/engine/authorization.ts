import type { EventSender, ProcedureDefinition, Role } from '../../workflows/index.ts';

/**
 * Who may see a case and who may send what to it — one pure module, so the command path, the
 * caller-aware `allowedEvents` and each task's `actions` can never disagree.
 */

/** The authenticated person behind a command. */
export interface Actor {
  /** null only for the system actor (the deadline engine). */
  id: string | null;
  name: string;
  regionCode: string;
  department: string;
  roles: Role[];
  system?: true;
}

/** The engine itself, sending events only it may send (deadlines). Covers every region. */
export const SYSTEM_ACTOR: Actor = { id: null, name: '系统（时限引擎）', regionCode: '', department: 'system', roles: [], system: true };

/** The parts of a task row the decisions read. */
export interface TaskGrant {
  id: string;
  department: string;
  role: string;
  region_code: string;
  actions: string[];
  status: string;
  assignee_id: string | null;
}

/** Region codes nest by prefix: a county user covers its townships. */
export const coversRegion = (actor: Actor, regionCode: string) => regionCode.startsWith(actor.regionCode);

const holds = (actor: Actor, role: string) => actor.roles.includes(role as Role);

/** The department, role and region of the task: the system actor never works a task. */
export const mayWork = (actor: Actor, task: TaskGrant) =>
  !actor.system && actor.department === task.department && holds(actor, task.role) && coversRegion(actor, task.region_code);

/** A declared sender. Person senders must cover the case's region: a township clerk acts only on the township's cases. */
export function isDeclaredSender(actor: Actor, def: ProcedureDefinition, sender: EventSender, caseRegion: string): boolean {
  if ('system' in sender) return actor.system === true;
  const departments = sender.department === 'accepting' ? def.acceptingDepartments : [sender.department];
  return !actor.system && holds(actor, sender.role) && departments.includes(actor.department) && coversRegion(actor, caseRegion);
}

export type Refusal = 'NOT_YOUR_DEPARTMENT' | 'TASK_CLAIMED_BY_OTHER' | 'NOT_PERMITTED';
export type Decision = { ok: true; task: TaskGrant | null } | { ok: false; refusal: Refusal };

/**
 * May `actor` send `type` to a case in `caseRegion` whose live tasks are `live`?
 *
 * An event a live task carries is sent by that task's holder: its department, role and region
 * (and its assignee once claimed). Any other event is sent only by its declared `sentBy`; an
 * event with neither is sent by nobody. `viaTaskId` narrows the carrying tasks to one.
 */
export function decide<T extends TaskGrant>(actor: Actor, def: ProcedureDefinition, caseRegion: string, type: string, live: T[], viaTaskId?: string): { ok: true; task: T | null } | { ok: false; refusal: Refusal } {
  const carrying = live.filter((t) => t.actions.includes(type) && (!viaTaskId || t.id === viaTaskId));
  if (carrying.length) {
    const workable = carrying.filter((t) => mayWork(actor, t));
    const free = workable.find((t) => t.status !== 'claimed' || t.assignee_id === actor.id);
    if (free) return { ok: true, task: free };
    return { ok: false, refusal: workable.length ? 'TASK_CLAIMED_BY_OTHER' : 'NOT_YOUR_DEPARTMENT' };
  }
  const sender = Object.hasOwn(def.events, type) ? def.events[type].sentBy : undefined;
  if (viaTaskId || !sender || !isDeclaredSender(actor, def, sender, caseRegion)) return { ok: false, refusal: 'NOT_PERMITTED' };
  return { ok: true, task: null };
}

/** Of the events the state knows, those this actor may send now (guards not evaluated). */
export const allowedEvents = (actor: Actor, def: ProcedureDefinition, caseRegion: string, known: string[], live: TaskGrant[]) =>
  known.filter((type) => decide(actor, def, caseRegion, type, live).ok);

/** The task's actions this actor may take now: all of them for its holder, none for anybody else. */
export const taskActions = (actor: Actor, def: ProcedureDefinition, task: TaskGrant) =>
  task.status === 'open' || task.status === 'claimed' ? task.actions.filter((type) => decide(actor, def, task.region_code, type, [task], task.id).ok) : [];

/**
 * Need to know: a case exists for an actor only in their region and only if they are a
 * supervisor or admin there, a clerk of the accepting department, or of a department that holds
 * or held a task on it. A user without roles sees nothing.
 */
export function maySeeCase(actor: Actor, def: ProcedureDefinition, caseRegion: string, taskDepartments: Iterable<string>): boolean {
  if (actor.system) return true;
  if (!coversRegion(actor, caseRegion) || actor.roles.length === 0) return false;
  if (holds(actor, 'supervisor') || holds(actor, 'admin')) return true;
  if (holds(actor, 'clerk') && def.acceptingDepartments.includes(actor.department)) return true;
  for (const d of taskDepartments) if (d === actor.department) return true;
  return false;
}

/**
 * Whose work needs the applicant's full personal data and the household's incomes: clerks of an
 * accepting department, and reviewers of a department that holds or held a task on the case (and
 * the system). Supervisors and admins oversee the case without them (社会救助暂行办法 art. 61).
 */
export function handlesPersonalData(actor: Actor, def: ProcedureDefinition, taskDepartments: Iterable<string>): boolean {
  if (actor.system) return true;
  if (holds(actor, 'clerk') && def.acceptingDepartments.includes(actor.department)) return true;
  if (!holds(actor, 'reviewer')) return false;
  for (const d of taskDepartments) if (d === actor.department) return true;
  return false;
}

/** Human-readable sender of an event where no task carries it, for generated docs. */
export function describeSender(sender: EventSender | undefined): string {
  if (!sender) return 'holder of an open task carrying it';
  if ('system' in sender) return 'system (deadline engine)';
  return `${sender.role} of ${sender.department === 'accepting' ? 'an accepting department' : sender.department} covering the case's region`;
}
