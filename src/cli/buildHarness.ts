/**
 * Builds only the engine harness page (e2e/harness/index.html, with the engine worker and the WASM binaries) for
 * the benchmark, into a cache folder. Model packages are not copied: the benchmark serves them from where they are.
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
