import { resolve } from 'node:path';
import { build } from 'vite';
import { REPO_ROOT } from '../../cli/buildHarness';
await build({ configFile: false, root: REPO_ROOT, base: './', logLevel: 'warn', publicDir: false, worker: { format: 'es' },
  build: { outDir: process.argv[2], emptyOutDir: true, target: 'es2022', rollupOptions: { input: { exp: resolve(REPO_ROOT, 'src/engine/.dev/exp.html') } } } });
