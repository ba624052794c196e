/*
 * Chinese labels for the fields and values of the procedures' schemas. The OpenAPI document
 * gives names and types but no titles (a request for one is in docs/workbench.md); a field
 * without a label here shows its name, so a new field is never hidden.
 */

const FIELDS: Record<string, string> = {
  name: '姓名',
  idNumber: '身份证号码',
  phone: '手机号码',
  address: '住址',
  bankCard: '银行卡号（用于发放）',
  householdSize: '家庭人口数',
  monthlyHouseholdIncomeFen: '家庭月收入',
  reason: '申请理由',
  supportMode: '供养方式',
  selfCareAbility: '生活自理能力',
  hardship: '急难类型',
  requestedAmountFen: '申请救助金额',
  deceased: '逝者信息',
  'deceased.name': '逝者姓名',
  'deceased.idNumber': '逝者身份证号码',
  dateOfDeath: '死亡日期',
  relationship: '申请人与逝者关系',
  branches: '需要办理的事项',
  pension: '养老保险待遇结算',
  medicalInsurance: '医保个人账户',
  housingFund: '住房公积金提取',
  socialSecurityCard: '社保卡注销',
  partner: '另一方当事人',
  'partner.name': '另一方姓名',
  'partner.idNumber': '另一方身份证号码',
  'marriage:kind': '登记类型',
  'social-organization:kind': '组织类型',
  organizationName: '组织名称',
  category: '业务类别',
  registrationPath: '登记方式',
  registeredCapitalFen: '注册资金（原始基金）',
  submittedMaterials: '申请材料',
};

const VALUES: Record<string, string> = {
  home: '分散供养',
  institution: '集中供养',
  full: '完全自理',
  partial: '部分自理',
  none: '完全不能自理',
  illness: '疾病',
  accident: '意外事故',
  disaster: '自然灾害',
  other: '其他',
  marriage: '结婚登记',
  divorce: '离婚登记',
  association: '社会团体',
  'private-non-enterprise': '民办非企业单位',
  foundation: '基金会',
  'industry-association': '行业协会商会',
  'science-technology': '科技类',
  charity: '公益慈善类',
  'community-service': '城乡社区服务类',
  sponsor: '经业务主管单位审查',
  direct: '直接登记',
};

/** `path` is dotted within its part (e.g. deceased.name); the procedure can disambiguate (kind). */
export function fieldLabel(procedureId: string, path: string): string {
  const name = path.split('.').at(-1)!;
  return FIELDS[`${procedureId}:${path}`] ?? FIELDS[path] ?? FIELDS[name] ?? name;
}

export const valueLabel = (value: string) => VALUES[value] ?? value;
