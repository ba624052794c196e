/**
 * Departments that take part in procedures. `level` says where its staff sit: a township
 * office (乡镇/街道) or a county-level bureau (县级), which covers all its townships.
 */
export const DEPARTMENTS = {
  'township-window': { name: '乡镇（街道）便民服务窗口', level: 'township' },
  'township-civil-affairs': { name: '乡镇（街道）社会救助经办机构', level: 'township' },
  'county-verification': { name: '县级居民家庭经济状况核对机构', level: 'county' },
  'county-civil-affairs': { name: '县级民政局', level: 'county' },
  'medical-insurance': { name: '县级医疗保障局', level: 'county' },
  education: { name: '县级教育局', level: 'county' },
  housing: { name: '县级住房和城乡建设局（住房保障）', level: 'county' },
  'public-security': { name: '县级公安局（户政）', level: 'county' },
  'funeral-home': { name: '殡仪馆', level: 'county' },
  'human-resources': { name: '县级人力资源和社会保障局', level: 'county' },
  'housing-fund': { name: '住房公积金管理中心', level: 'county' },
  'marriage-registry': { name: '婚姻登记处', level: 'county' },
  'social-org-registry': { name: '社会组织登记管理机关（民政）', level: 'county' },
  'sponsor-unit': { name: '业务主管单位', level: 'county' },
  tax: { name: '县级税务局', level: 'county' },
  // 主动发现 (docs/leads.md): the community's grid workers register leads; they take part in no chart.
  'community-grid': { name: '社区网格服务站', level: 'township' },
} as const satisfies Record<string, { name: string; level: 'township' | 'county' }>;

export type DepartmentId = keyof typeof DEPARTMENTS;

export const departmentName = (id: string): string => (DEPARTMENTS as Record<string, { name: string }>)[id]?.name ?? id;
