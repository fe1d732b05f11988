import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// One config for the app build (frontend/dist, embedded by Wails) and for
// vitest. Tests run in jsdom with Svelte's browser build so components mount.
export default defineConfig({
  plugins: [svelte()],
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // No external assets: everything is bundled, nothing fetched at run time.
    assetsInlineLimit: 0,
  },
  server: { host: '127.0.0.1', port: 5173, strictPort: false },
  preview: { host: '127.0.0.1' },
  resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'jsdom',
    globals: true,
    include: ['src/**/*.test.ts'],
    setupFiles: ['src/test-setup.ts'],
    restoreMocks: true,
    // Whole-app tests mount App.svelte in jsdom; on a loaded 2-core
    // machine one took 5.6 s against vitest's 5 s default. Waits inside
    // tests are conditions (vi.waitFor), so a longer ceiling hides nothing.
    testTimeout: 20_000,
  },
});
