import base from '../../../playwright.config';
import { defineConfig } from '@playwright/test';
export default defineConfig({ ...base, testDir: '/work/main/e2e', outputDir: '/tmp/eng/test-results', reporter: [['list']],
  use: { ...base.use, baseURL: 'http://127.0.0.1:4199/' },
  webServer: { command: 'npx tsx /work/main/src/engine/.dev/serve.ts 4199', url: 'http://127.0.0.1:4199/e2e/harness/index.html', reuseExistingServer: false, timeout: 120000 } });
