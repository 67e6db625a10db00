// The task list's columns, as the data table wants them (render functions). Selection uses plain labelled
// checkboxes and the expand control a real button, so both work from the keyboard and read well aloud.
import { NTag, type DataTableColumns } from "naive-ui";
import { h } from "vue";
import { RouterLink } from "vue-router";
import type { Job } from "@/api/client";
import { formatDuration, formatTime } from "@/format";
import JobItemsPreview from "./JobItemsPreview.vue";
import JobProgress from "./JobProgress.vue";
import JobStatusTag from "./JobStatusTag.vue";

type Translate = (key: string, named?: Record<string, unknown> | number, plural?: number) => string;

export interface ColumnContext {
  t: Translate;
  canAct: boolean;
  isAdmin: boolean;
  /** The loaded jobs (for "select all"). */
  jobs(): Job[];
  selected: Set<number>;
  typeTitle(name: string): string;
}

function selectColumn(ctx: ColumnContext): DataTableColumns<Job>[number] {
  const { t, selected } = ctx;
  return {
    key: "select",
    width: 44,
    title: () => {
      const jobs = ctx.jobs();
      const count = jobs.filter((job) => selected.has(job.id)).length;
      return h("input", {
        type: "checkbox",
        class: "jobs-check",
        "data-test": "select-all",
        "aria-label": t("jobs.columns.selectAll", { n: jobs.length }),
        checked: jobs.length > 0 && count === jobs.length,
        indeterminate: count > 0 && count < jobs.length,
        disabled: jobs.length === 0,
        onChange: (event: Event) => {
          const on = (event.target as HTMLInputElement).checked;
          for (const job of jobs) {
            if (on) selected.add(job.id);
            else selected.delete(job.id);
          }
        },
      });
    },
    render: (job) =>
      h("input", {
        type: "checkbox",
        class: "jobs-check",
        "data-test": "select-row",
        "aria-label": t("jobs.columns.selectRow", { id: job.id }),
        checked: selected.has(job.id),
        onChange: (event: Event) => {
          if ((event.target as HTMLInputElement).checked) selected.add(job.id);
          else selected.delete(job.id);
        },
      }),
  };
}

export function jobColumns(ctx: ColumnContext): DataTableColumns<Job> {
  const { t } = ctx;
  const columns: DataTableColumns<Job> = [];
  if (ctx.canAct) columns.push(selectColumn(ctx));
  columns.push(
    {
      type: "expand",
      width: 56,
      title: () => h("span", { class: "jobs-th-small" }, t("jobs.columns.expand")),
      renderExpand: (job) => h(JobItemsPreview, { jobId: job.id, total: job.total }),
    },
    {
      key: "id",
      title: t("jobs.columns.id"),
      width: 80,
      render: (job) =>
        h(RouterLink, { to: { name: "job", params: { id: job.id } }, "data-test": "job-link" }, () => `#${job.id}`),
    },
    {
      key: "type",
      title: t("jobs.columns.type"),
      minWidth: 170,
      render: (job) =>
        h("span", { class: "jobs-type" }, [
          h("span", { title: job.type }, ctx.typeTitle(job.type)),
          job.total > 1
            ? h(
                NTag,
                {
                  size: "small",
                  round: true,
                  bordered: true,
                  "data-test": "batch-badge",
                  title: t("jobs.columns.batchItems", { n: job.total }, job.total),
                },
                () => t("jobs.columns.batch"),
              )
            : null,
        ]),
    },
  );
  if (ctx.isAdmin) columns.push({ key: "owner", title: t("jobs.columns.owner"), width: 110, ellipsis: { tooltip: true } });
  columns.push(
    {
      key: "status",
      title: t("jobs.columns.status"),
      width: 110,
      render: (job) => h(JobStatusTag, { status: job.status }),
    },
    {
      key: "progress",
      title: t("jobs.columns.progress"),
      width: 160,
      render: (job) => h(JobProgress, { job }),
    },
    {
      key: "counts",
      title: t("jobs.columns.counts"),
      width: 150,
      render: (job) =>
        h(
          "span",
          {
            class: "jobs-counts",
            title: t("jobs.columns.countsText", { succeeded: job.succeeded, failed: job.failed, skipped: job.skipped }),
          },
          `${job.succeeded} / ${job.failed} / ${job.skipped}`,
        ),
    },
    {
      key: "created_at",
      title: t("jobs.columns.created"),
      width: 180,
      render: (job) => formatTime(job.created_at),
    },
    {
      key: "eta",
      title: t("jobs.columns.eta"),
      width: 110,
      render: (job) => (job.status === "running" ? formatDuration(job.eta_seconds) : t("common.none")),
    },
  );
  return columns;
}
