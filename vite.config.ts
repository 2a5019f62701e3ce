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

/** The inner factory's opening line in tfjs-backend-wasm 4.22's threaded Emscripten glue. */
const THREADED_FACTORY_OPENING = 'function(WasmBackendModuleThreadedSimd) {';

/**
 * Keeps tfjs-backend-wasm's threaded binary working in a minified build.
 *
 * Why: tfjs starts the WASM threads (pthread workers) from a Blob holding `factory.toString()`, the inner
 * function of the Emscripten glue, evaluated alone in each worker. That function reads `_scriptDir`, a
 * variable of the enclosing closure, only behind `typeof _scriptDir !== "undefined"`, which keeps it safe in
 * the worker where the closure is gone. The minifier sees the variable declared, rewrites the guard to
 * `e !== void 0 && e`, and every pthread worker dies with `ReferenceError: e is not defined`. Declaring the
 * variable inside the factory as well (same value: no `document.currentScript` in a module worker or an ES
 * module page) makes the function self-contained, so it survives minification and stringification; the rest
 * of the bundle stays minified.
 */
export function tfjsWasmThreadsSurviveMinification(): Plugin {
  return {
    name: 'tfjs-wasm-threads-survive-minification',
    apply: 'build',
    transform(code, id) {
      if (!/@tensorflow[\\/]tfjs-backend-wasm[\\/]wasm-out[\\/]tfjs-backend-wasm-threaded-simd\.js$/.test(id))
        return null;
      if (!code.includes(THREADED_FACTORY_OPENING)) {
        // A tfjs upgrade changed the glue: fail the build rather than ship a threaded backend that cannot start.
        this.error(
          `${id} no longer contains "${THREADED_FACTORY_OPENING}"; re-check the threaded WASM workaround in vite.config.ts`,
        );
      }
      const local =
        "var _scriptDir = typeof document !== 'undefined' && document.currentScript ? document.currentScript.src : undefined;";
      return { code: code.replace(THREADED_FACTORY_OPENING, `${THREADED_FACTORY_OPENING}\n${local}`), map: null };
    },
  };
}

/**
 * Cross-origin isolation (COOP same-origin + COEP require-corp) lets the page share memory with workers, which
 * tfjs-backend-wasm needs for its threaded binary; every resource of the app is same-origin, so require-corp
 * blocks nothing. Hosts that cannot send headers get them from public/coi-serviceworker.js instead.
 */
export const CROSS_ORIGIN_ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// Two pages: the explorer app, and the engine harness that e2e runtime tests and the benchmark drive.
export default defineConfig({
  base: './',
  plugins: [react(), devWithoutCsp(), tfjsWasmThreadsSurviveMinification()],
  // The engine worker (where tfjs lives) is bundled on its own, with these plugins only.
  worker: { format: 'es', plugins: () => [tfjsWasmThreadsSurviveMinification()] },
  build: {
    target: 'es2022',
    rollupOptions: {
      input: {
        app: resolve(import.meta.dirname, 'index.html'),
        harness: resolve(import.meta.dirname, 'e2e/harness/index.html'),
      },
    },
  },
  server: { port: 5173, strictPort: true, headers: CROSS_ORIGIN_ISOLATION_HEADERS },
  preview: { port: 4173, strictPort: true, headers: CROSS_ORIGIN_ISOLATION_HEADERS },
});
