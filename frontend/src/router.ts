// Pages and their addresses. Every page but sign-in needs a session; each page's code loads when first shown.
import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";
import { useSession } from "@/stores/session";

const routes: RouteRecordRaw[] = [
  { path: "/sign-in", name: "sign-in", component: () => import("@/pages/SignInPage.vue"), meta: { public: true } },
  { path: "/", redirect: { name: "jobs" } },
  { path: "/jobs", name: "jobs", component: () => import("@/pages/JobListPage.vue") },
  { path: "/jobs/new", name: "new-job", component: () => import("@/pages/NewJobPage.vue") },
  { path: "/jobs/:id(\\d+)", name: "job", component: () => import("@/pages/JobDetailPage.vue"), props: true },
  { path: "/sync", name: "sync", component: () => import("@/pages/DateSyncPage.vue") },
  { path: "/bulk", name: "bulk", component: () => import("@/pages/BulkUpdatePage.vue") },
  { path: "/schedules", name: "schedules", component: () => import("@/pages/SchedulesPage.vue") },
  { path: "/schedules/new", name: "new-schedule", component: () => import("@/pages/ScheduleFormPage.vue") },
  { path: "/schedules/:id(\\d+)", name: "schedule", component: () => import("@/pages/ScheduleDetailPage.vue"), props: true },
  {
    path: "/schedules/:id(\\d+)/edit",
    name: "edit-schedule",
    component: () => import("@/pages/ScheduleFormPage.vue"),
    props: true,
  },
  { path: "/account", name: "account", component: () => import("@/pages/AccountPage.vue") },
  { path: "/notifications", name: "notifications", component: () => import("@/pages/NotificationsPage.vue") },
  { path: "/admin/users", name: "users", component: () => import("@/pages/UsersPage.vue"), meta: { admin: true } },
  { path: "/:rest(.*)*", name: "not-found", component: () => import("@/pages/NotFoundPage.vue") },
];

export const router = createRouter({ history: createWebHistory(), routes });

router.beforeEach((to) => {
  const session = useSession();
  if (!to.meta.public && !session.signedIn) return { name: "sign-in", query: { next: to.fullPath } };
  return true;
});

/** The token was refused: forget it, and ask for a sign-in that leads back here (from the sign-in page: stay). */
export function signedOutHere(): void {
  useSession().forget();
  const here = router.currentRoute.value;
  if (!here.meta.public) void router.push({ name: "sign-in", query: { next: here.fullPath } });
}
