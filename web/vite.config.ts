import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// `atrium serve` serves dist/ (ATRIUM_WEB_ROOT) with a strict CSP: everything the build emits
// must be a same-origin file (no inline scripts or styles), and hashed files live under /assets/,
// which the server marks immutable.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    sourcemap: false,
    // No data: URLs for assets either; everything is a file the CSP allows as 'self'.
    assetsInlineLimit: 0,
  },
  server: {
    // `npm run dev` against a running `atrium serve` on the default port.
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/ws': { target: 'ws://127.0.0.1:8080', ws: true },
    },
  },
  test: {
    environment: 'node', // component tests opt in with a @vitest-environment jsdom comment
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
  },
});
