/**
 * Builds the pages the benchmark drives, into cache folders: the engine harness (e2e/harness/index.html, with the
 * engine worker and the WASM binaries; model packages are not copied, the benchmark serves them from where they
 * are) and, for the slider drag, the app itself with its bundled models.
 */
import { resolve } from 'node:path';
import { build } from 'vite';
import { tfjsWasmThreadsSurviveMinification } from '../../vite.config';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');

/** @returns the output folder; the harness page is at `<outDir>/e2e/harness/index.html` */
export async function buildHarness(outDir: string): Promise<string> {
  await build({
    configFile: false,
    root: REPO_ROOT,
    base: './',
    logLevel: 'warn',
    publicDir: false,
    // As the app's build: the threaded WASM binary must start in the minified worker (the bench serves the page
    // cross-origin isolated, as the app is served).
    worker: { format: 'es', plugins: () => [tfjsWasmThreadsSurviveMinification()] },
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      rollupOptions: { input: { harness: resolve(REPO_ROOT, 'e2e/harness/index.html') } },
    },
  });
  return outDir;
}

/** Builds the app itself (index.html, with the project's Vite config and the bundled models) into `outDir`. */
export async function buildApp(outDir: string): Promise<string> {
  await build({ root: REPO_ROOT, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  return outDir;
}
