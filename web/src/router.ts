import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router';
import type { User } from './api/client';
import { homeOf, mayOpen } from './menu';
import { loadSession, session } from './session';

declare module 'vue-router' {
  interface RouteMeta {
    /** Public pages need no login (the citizen's tracking page, the login page itself). */
    public?: boolean;
    roles?: User['roles'][number][];
    title?: string;
  }
}

const routes: RouteRecordRaw[] = [
  { path: '/login', component: () => import('./views/LoginView.vue'), meta: { public: true, title: '登录' } },
  { path: '/track', component: () => import('./views/TrackView.vue'), meta: { public: true, title: '办件进度查询' } },
  { path: '/apply', component: () => import('./views/ApplyView.vue'), meta: { public: true, title: '网上申请' } },
  // A citizen's mistyped address: a not-found page that leads to the page meant, not the staff login.
  { path: '/track/:rest(.*)+', component: () => import('./views/NotFoundView.vue'), props: { back: { to: '/track', label: '办件进度查询' } }, meta: { public: true, title: '页面不存在' } },
  { path: '/apply/:rest(.*)+', component: () => import('./views/NotFoundView.vue'), props: { back: { to: '/apply', label: '网上申请' } }, meta: { public: true, title: '页面不存在' } },
  {
    path: '/',
    component: () => import('./views/LayoutView.vue'),
    children: [
      { path: '', component: () => import('./views/PlaceholderView.vue') },
      { path: 'window', component: () => import('./views/WindowView.vue'), meta: { roles: ['clerk'], title: '综合窗口' } },
      { path: 'window/prescreen', component: () => import('./views/PrescreenView.vue'), meta: { roles: ['clerk'], title: '网上申请预审' } },
      { path: 'window/receipt/:caseId', component: () => import('./views/ReceiptView.vue'), meta: { roles: ['clerk'], title: '受理回执' } },
      { path: 'cases/:id/notice/supplement', component: () => import('./views/NoticeView.vue'), props: { kind: 'supplement' }, meta: { roles: ['clerk'], title: '一次性告知书' } },
      { path: 'cases/:id/notice/rejection', component: () => import('./views/NoticeView.vue'), props: { kind: 'rejection' }, meta: { roles: ['clerk'], title: '不予受理通知书' } },
      { path: 'cases/:id/tasks/:taskId/assignment', component: () => import('./views/TaskAssignmentView.vue'), meta: { roles: ['clerk', 'reviewer', 'supervisor'], title: '任务委派 / 改派' } },
      { path: 'inbox', component: () => import('./views/InboxView.vue'), meta: { roles: ['reviewer', 'clerk', 'supervisor'], title: '待办' } },
      { path: 'cases/:id', component: () => import('./views/CaseView.vue'), meta: { roles: ['reviewer', 'clerk', 'supervisor', 'admin'], title: '办件详情' } },
      { path: 'leads', component: () => import('./views/LeadsView.vue'), meta: { roles: ['gridWorker', 'reviewer', 'supervisor'], title: '主动发现线索' } },
      { path: 'leads/new', component: () => import('./views/LeadNewView.vue'), meta: { roles: ['gridWorker'], title: '登记线索' } },
      { path: 'supervision', component: () => import('./views/BoardView.vue'), meta: { roles: ['supervisor'], title: '督办看板' } },
      { path: 'supervision/report', component: () => import('./views/ReportView.vue'), meta: { roles: ['supervisor', 'admin'], title: '月报告' } },
      {
        path: 'admin',
        component: () => import('./views/admin/AdminView.vue'),
        meta: { roles: ['admin'], title: '管理' },
        children: [
          { path: '', redirect: '/admin/calendars' },
          { path: 'calendars', component: () => import('./views/admin/CalendarsView.vue'), meta: { title: '工作日历' } },
          { path: 'users', component: () => import('./views/admin/UsersView.vue'), meta: { title: '用户管理' } },
          { path: 'notices', component: () => import('./views/admin/NoticesView.vue'), meta: { title: '群众通知' } },
          { path: 'definition-migrations', component: () => import('./views/admin/DefinitionMigrationsView.vue'), meta: { title: '流程版本迁移' } },
          { path: 'incidents', component: () => import('./views/admin/IncidentsView.vue'), meta: { title: '故障处理' } },
        ],
      },
      { path: 'no-role', component: () => import('./views/PlaceholderView.vue'), meta: { title: '未分配岗位' } },
      { path: ':rest(.*)*', component: () => import('./views/NotFoundView.vue'), meta: { title: '页面不存在' } },
    ],
  },
];

export const router = createRouter({ history: createWebHistory(), routes });

router.beforeEach(async (to) => {
  if (to.meta.public) return true;
  const user = await loadSession();
  if (!user) return { path: '/login', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} };
  if (to.path === '/') return homeOf(user);
  // A screen the role cannot use is not offered, and typing its address leads home.
  if (!mayOpen(user, to.meta.roles)) return homeOf(user);
  return true;
});

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} - 一窗通办` : '一窗通办';
});

export { session };
