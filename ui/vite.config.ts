/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";

// The Tauri window loads ui/dist (production) or this dev server (tauri dev).
export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  // Relative asset URLs: works from tauri://localhost and from any sub-path.
  base: "./",
  clearScreen: false,
  server: {
    port: 5173,
    strictPort: true, // tauri.conf.json devUrl is http://localhost:5173
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2021",
    // Keep everything as files: no inlined data: scripts (strict CSP).
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    // Deterministic clock-time formatting in tests.
    env: { TZ: "UTC" },
    setupFiles: ["src/test/setup.ts"],
    restoreMocks: true,
  },
});
