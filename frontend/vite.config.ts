/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

// The build goes into the Python package, which serves it at "/" (`batchyard serve`) and a wheel carries.
const outDir = fileURLToPath(new URL("../src/batchyard/api/dashboard", import.meta.url));
const api = process.env.BATCHYARD_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [vue()],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  build: { outDir, emptyOutDir: true, chunkSizeWarningLimit: 700 },
  server: { proxy: { "/api": api } },
  test: { environment: "happy-dom", include: ["tests/**/*.test.ts"], setupFiles: ["tests/support/setup.ts"] },
});
