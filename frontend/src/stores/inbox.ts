// How many notifications are unread: the bell in the header shows it; pages that mark notices read recount.
import { defineStore } from "pinia";
import { ref } from "vue";
import { api } from "@/api/client";

export const useInbox = defineStore("inbox", () => {
  const unread = ref(0);

  async function recount(): Promise<void> {
    const { data } = await api.GET("/api/v1/notifications", { params: { query: { unread: true, limit: 100 } } });
    if (data) unread.value = data.notifications.length;
  }

  return { unread, recount };
});
