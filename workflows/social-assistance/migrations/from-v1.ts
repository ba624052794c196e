import type { DefinitionMapping } from '../../shared/definitionMapping.ts';
import type { AssistanceContext as V1Context } from '../v1/machine.ts';
import type { AssistanceContext as V2Context } from '../machine.ts';

/**
 * 低保 (and 特困, the same chart) version 1 → version 2: the worked example of a rule change a
 * new law could bring (docs/versioning.md). Version 1 could refer a case to 医疗救助 only, and only
 * at acceptance; version 2 — as a 社会救助法 putting 转办 to every specialised relief on the window
 * would require — refers to 医疗、教育、住房、就业救助, at acceptance or after approval.
 *
 * The assistance region (investigation → 初审 → 公示 → confirmation → payment) and intake are
 * unchanged, so their states keep their paths. Only the medical-assistance region changed shape,
 * and three relief regions are new.
 */
const ASSISTANCE_ENDED = ['handling.assistance.stopped', 'handling.assistance.refused'];

/** A new relief region waits for a late referral, unless the assistance already ended (then it is skipped, as v2 would have done). */
const idleRelief = (targetLeaves: string[]) => (targetLeaves.some((l) => ASSISTANCE_ENDED.includes(l)) ? 'skipped' : 'routing');

export function assistanceFromV1(procedureId: 'social-assistance' | 'destitute-support'): DefinitionMapping<V1Context, V2Context> {
  return {
    id: `${procedureId}@1→2:specialised-relief-referrals`,
    procedureId,
    from: 1,
    to: 2,
    summary: '转办 to four specialised reliefs (医疗、教育、住房、就业救助), at acceptance or after approval; version 1 had 医疗救助 at acceptance only',
    renamed: {
      // The same step (the 医保 department's task, state id sa.medicalAssistance): the live task carries over.
      'handling.medicalAssistance.review': 'handling.medicalAssistance.pending',
    },
    removed: {
      'handling.medicalAssistance.notReferred': {
        target: 'handling.medicalAssistance.routing',
        why: 'v2 has no final "not referred": the region waits in routing, so 医疗救助 can still be referred after approval',
      },
    },
    addedRegions: {
      'handling.educationAssistance': idleRelief,
      'handling.housingAssistance': idleRelief,
      'handling.employmentAssistance': idleRelief,
    },
    refused: {
      // v2 records each relief decision in the case facts (referralOutcomes: 救助方式 or 理由); v1
      // recorded neither, so a decided 医疗救助 cannot be carried over without inventing them.
      'handling.medicalAssistance.granted': '医疗救助已批准，但版本1未记录救助方式，无法在版本2中如实记载；该办件继续按版本1办结',
      'handling.medicalAssistance.notGranted': '医疗救助未获批准，但版本1未记录不予批准理由，无法在版本2中如实记载；该办件继续按版本1办结',
    },
    context(ctx, sourceLeaves) {
      const medicalActive = sourceLeaves.some((l) => l === 'handling.medicalAssistance.review');
      // The flag and the state must agree; a case where they do not is not one we can reason about.
      if (sourceLeaves.some((l) => l.startsWith('handling.')) && medicalActive !== ctx.referToMedicalAssistance) {
        return { refuse: '办件数据与流程状态不一致（是否转办医疗救助），请人工核查' };
      }
      const { referToMedicalAssistance, ...rest } = ctx;
      return { context: { ...rest, referrals: referToMedicalAssistance ? ['medical'] : [], referralOutcomes: {} } };
    },
  };
}

export const socialAssistanceFromV1 = assistanceFromV1('social-assistance');
