import { defineConfig } from '@playwright/test';

/**
 * Everything environmental lives here: Debian's Chromium (never a downloaded browser), the flags that give
 * headless WebGPU on SwiftShader (shared/research/web.md §2.1), and the server the tests run against.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const WEBGPU_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
];
/**
 * Flags for a real GPU (the benchmark's `--gpu hardware`, scripts/bench-real-gpu.sh): WebGPU and ANGLE over the
 * machine's Vulkan driver instead of SwiftShader, and no blocklist, so a headless server GPU is used.
 */
export const HARDWARE_GPU_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-angle=vulkan',
  '--ignore-gpu-blocklist',
];
export const QUIET_ARGS = [
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * Several people (or agents) testing one checkout at once each set E2E_PORT: their own server, build folder and
 * results, so nobody's test runs against somebody else's half-finished build.
 */
const PORT = Number(process.env.E2E_PORT ?? 4173);
const OWN_BUILD = process.env.E2E_PORT ? `dist-e2e-${PORT}` : 'dist';

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  // Specs that draw docs/ pictures on the shipped models are tools, not tests: `npm run docs:pictures` runs them.
  testIgnore: process.env.DOCS_PICTURES ? [] : ['**/*-docs.spec.ts'],
  outputDir: process.env.E2E_PORT ? `test-results-${PORT}` : 'test-results',
  fullyParallel: false,
  workers: 1, // two cores and a CPU-rasterised GPU: run serially
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 180_000,
  expect: { timeout: 60_000 },
  reporter: [
    ['list'],
    ['html', { open: 'never', outputFolder: process.env.E2E_PORT ? `playwright-report-${PORT}` : 'playwright-report' }],
  ],
  use: {
    baseURL: `http://127.0.0.1:${PORT}/`,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: { executablePath: CHROMIUM, args: [...QUIET_ARGS, ...WEBGPU_ARGS] },
  },
  webServer: {
    command: `npx vite build --logLevel warn --outDir ${OWN_BUILD} && npx vite preview --host 127.0.0.1 --port ${PORT} --strictPort --outDir ${OWN_BUILD}`,
    url: `http://127.0.0.1:${PORT}/`,
    reuseExistingServer: !process.env.CI,
    timeout: 240_000,
  },
});
