// The service's job types, read once per session: titles, costs and limits for any page that needs them.
import { defineStore } from "pinia";
import { ref } from "vue";
import { api, unwrap, type Schemas } from "@/api/client";

export type JobType = Schemas["JobTypeOut"];

export const useJobTypes = defineStore("jobTypes", () => {
  const byName = ref<Record<string, JobType>>({});
  let pending: Promise<void> | null = null;

  function load(): Promise<void> {
    pending ??= unwrap(api.GET("/api/v1/job-types"))
      .then((types) => {
        byName.value = Object.fromEntries(types.map((type) => [type.name, type]));
      })
      .catch(() => {
        pending = null; // try again next time
      });
    return pending;
  }

  return { byName, load };
});
