import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

/**
 * The dev server injects inline scripts (React refresh preamble) and <style> tags for hot reload, which the
 * page's Content-Security-Policy meta tag rightly forbids; drop the tag while serving in dev only. Built pages
 * keep it.
 */
function devWithoutCsp(): Plugin {
  return {
    name: 'dev-without-csp',
    apply: 'serve',
    transformIndexHtml: (html) => html.replace(/<meta\s+http-equiv="Content-Security-Policy"[^>]*>/s, ''),
  };
}

// Two pages: the explorer app, and the engine harness that e2e runtime tests and the benchmark drive.
export default defineConfig({
  base: './',
  plugins: [react(), devWithoutCsp()],
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    rollupOptions: {
      input: {
        app: resolve(import.meta.dirname, 'index.html'),
        harness: resolve(import.meta.dirname, 'e2e/harness/index.html'),
      },
    },
  },
  server: { port: 5173, strictPort: true },
  preview: { port: 4173, strictPort: true },
});
