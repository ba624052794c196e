import { destituteSupport } from './destitute-support/index.ts';
import { funeral } from './funeral/index.ts';
import { marriage } from './marriage/index.ts';
import type { ProcedureDefinition } from './shared/types.ts';
import { socialAssistance } from './social-assistance/index.ts';
import { socialOrganization } from './social-organization/index.ts';
import { temporaryAssistance } from './temporary-assistance/index.ts';

export type { ProcedureDefinition, StateMeta, TaskMeta, EventSpec, CaseEvent, Role, ModelVariant, TimeLimit, EscalationPolicy, StateTimer, EventSender } from './shared/types.ts';
export { ROLES } from './shared/types.ts';
export { applicantSchema, type Applicant } from './shared/schemas.ts';
export { DEPARTMENTS, departmentName } from './shared/departments.ts';

/**
 * Every definition version that may still have cases. Cases are pinned to the version they
 * started on, so an old version stays here until no case uses it; new cases use the latest.
 */
export const procedureDefinitions: ProcedureDefinition<any>[] = [
  socialAssistance,
  destituteSupport,
  temporaryAssistance,
  funeral,
  marriage,
  socialOrganization,
];
