/**
 * Playwright fixture for the engine harness page: `engineHarness` opens e2e/harness/index.html, waits until it says
 * "ready", and forwards typed calls to `window.__harness` (api.ts), so specs ask the engine for facts instead of
 * scraping a page.
 */
import { test as base, expect, type Page } from '@playwright/test';
import type { HarnessApi } from './api';

export const HARNESS_PATH = 'e2e/harness/index.html';

export class EngineHarness {
  constructor(readonly page: Page) {}

  async open(): Promise<void> {
    await this.page.goto(HARNESS_PATH);
    await expect(this.page.getByRole('status')).toHaveText('ready');
  }

  /** Calls `window.__harness[method](...args)` in the page and returns its (JSON) result. */
  call<K extends keyof HarnessApi>(
    method: K,
    ...args: Parameters<HarnessApi[K]>
  ): Promise<Awaited<ReturnType<HarnessApi[K]>>> {
    return this.page.evaluate(
      ([name, callArgs]) => (window.__harness[name] as (...a: unknown[]) => unknown)(...(callArgs as unknown[])),
      [method, args] as const,
    ) as Promise<Awaited<ReturnType<HarnessApi[K]>>>;
  }
}

export const test = base.extend<{ engineHarness: EngineHarness }>({
  // Playwright calls the second parameter `use`; named otherwise so the React hooks lint rule leaves it alone.
  engineHarness: async ({ page }, provide) => {
    const harness = new EngineHarness(page);
    await harness.open();
    await provide(harness);
  },
});

export { expect };
