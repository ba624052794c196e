import { destituteSupport } from './destitute-support/index.ts';
import { funeral } from './funeral/index.ts';
import { marriage } from './marriage/index.ts';
import type { ProcedureDefinition } from './shared/types.ts';
import { socialAssistance } from './social-assistance/index.ts';
import { socialOrganization } from './social-organization/index.ts';
import { temporaryAssistance } from './temporary-assistance/index.ts';
import { assistanceV1 } from './social-assistance/v1/index.ts';
import { assistanceFromV1 } from './social-assistance/migrations/from-v1.ts';
import type { DefinitionMapping } from './shared/definitionMapping.ts';

export type { ProcedureDefinition, StateMeta, TaskMeta, EventSpec, CaseEvent, Role, ModelVariant, TimeLimit, EscalationPolicy, StateTimer, EventSender } from './shared/types.ts';
export { ROLES } from './shared/types.ts';
export { applicantSchema, type Applicant } from './shared/schemas.ts';
export { DEPARTMENTS, departmentName } from './shared/departments.ts';
export { leafPaths, stateValueOf, type DefinitionMapping } from './shared/definitionMapping.ts';

/**
 * The current version of every procedure: new cases start on these, and docs, model-based tests
 * and the OpenAPI document are generated from them.
 */
export const procedureDefinitions: ProcedureDefinition<any>[] = [
  socialAssistance,
  destituteSupport,
  temporaryAssistance,
  funeral,
  marriage,
  socialOrganization,
];

/**
 * Older versions that may still have cases. Cases are pinned to the version they started on, so
 * an old version stays loaded (and model-checked) until no case uses it.
 */
export const retainedDefinitions: ProcedureDefinition<any>[] = [assistanceV1(socialAssistance), assistanceV1(destituteSupport)];

/** Every definition version the engine loads. */
export const loadedDefinitions: ProcedureDefinition<any>[] = [...procedureDefinitions, ...retainedDefinitions];

/**
 * Declared mappings that move running cases from one version to the next (`npm run cases:migrate`,
 * docs/versioning.md). 特困 shares 低保's chart, so the same mapping serves both.
 */
export const definitionMappings: DefinitionMapping[] = [assistanceFromV1('social-assistance'), assistanceFromV1('destitute-support')];
