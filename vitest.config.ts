import { configDefaults, defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Two projects: the Node suite as it always ran, and the renderer's unit and component tests
// (test/renderer-*.test.ts, happy-dom per file), which need the Svelte compiler and the
// browser build of Svelte.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          // The hostile harness (test/helpers/hostile.ts) collects garbage before reading the heap.
          execArgv: ['--expose-gc'],
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/renderer-*.test.ts'],
        },
      },
      {
        extends: true,
        plugins: [svelte({ configFile: false, compilerOptions: { css: 'injected' } })],
        resolve: { conditions: ['browser'] },
        test: {
          name: 'renderer',
          include: ['test/renderer-*.test.ts'],
        },
      },
    ],
  },
});
