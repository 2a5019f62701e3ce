/**
 * Vitest set-up shared by the layer-level tests: the tfjs CPU backend, and after every test a check that the
 * live tensor count is back where it started (every layer call must dispose what it makes).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterEach, beforeAll, expect } from 'vitest';

export function setUpCpuBackendWithLeakCheck(): void {
  let baseline = 0;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    baseline = tf.memory().numTensors;
  });
  afterEach(() => {
    expect(tf.memory().numTensors).toBe(baseline);
  });
}
