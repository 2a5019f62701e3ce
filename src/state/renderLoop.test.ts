/**
 * The render loop's own behaviour, beyond what store.test.ts's "live rendering" checks: it is one way (it never
 * reacts to the frames it presents), its progress is transient (no store update per DDIM step), the next render is
 * posted before a frame is presented, and a held slider's student frame fits the live-frame budget.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  connectRenderLoop,
  fewestFaithfulCalls,
  heldStudentCalls,
  HELD_FIDELITY_SLACK_DB,
  HELD_FRAME_BUDGET_MS,
  HELD_FRAME_FLOPS,
  HELD_UPSHIFT_MARGIN,
} from './renderLoop';
import { createExplorerStore, type ExplorerStore } from './store';
import type { RenderActivity } from './renderSlice';
import { FAKE_STUDENT, fakeMetadata, flush } from './testing/fakeEngine';
import { createTestDeps, type TestDeps } from './testing/fakeDeps';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/**
 * A store on the fake engine in manual mode. `beforeLoop` subscribes before the loop does, so it sees each store
 * update before the loop reacts to it. `engineMsPerCall` sets the engine time the fake reports per network call,
 * `denoiserFlops` the model's cost per call.
 */
function setup(
  options: {
    student?: boolean;
    beforeLoop?: (store: ExplorerStore, deps: TestDeps) => void;
    engineMsPerCall?: number;
    denoiserFlops?: number;
  } = {},
): { store: ExplorerStore; deps: TestDeps } {
  const deps = createTestDeps({
    manualSamples: true,
    metadata: options.student ? fakeMetadata({ student: FAKE_STUDENT }) : fakeMetadata(),
  });
  if (options.engineMsPerCall !== undefined) {
    const sample = deps.engine.sample.bind(deps.engine);
    const msPerCall = options.engineMsPerCall;
    deps.engine.sample = (params, callOptions) =>
      sample(params, callOptions).then((result) => ({ ...result, elapsedMs: msPerCall * result.denoiserCalls }));
  }
  if (options.denoiserFlops !== undefined) {
    const load = deps.engine.load.bind(deps.engine);
    const denoiserFlops = options.denoiserFlops;
    deps.engine.load = (source, loadOptions) =>
      load(source, loadOptions).then((result) => ({ ...result, stats: { ...result.stats, denoiserFlops } }));
  }
  const store = createExplorerStore(deps);
  options.beforeLoop?.(store, deps);
  cleanups.push(connectRenderLoop(store, deps.engine, deps.now));
  cleanups.push(() => store.getState().reset());
  return { store, deps };
}

const mainSamples = (deps: TestDeps) =>
  deps.engine.calls.filter((c) => c.kind === 'sample' && c.channel === 'main-view');

describe('render loop', () => {
  it('writes the store once per render, its frame: DDIM step progress goes to the transient feed', async () => {
    const { store, deps } = setup();
    await store.getState().start({ steps: 10 });
    await deps.engine.releaseSample();
    let writes = 0;
    const unsubscribe = store.subscribe(() => (writes += 1));
    const activity: (RenderActivity | null)[] = [];
    const unfeed = store
      .getState()
      .renderActivity.subscribe(() => activity.push(store.getState().renderActivity.get()));
    store.getState().setLatentValue(0, 0.5);
    expect(writes).toBe(1); // the change of z itself
    await deps.engine.releaseSample();
    unsubscribe();
    unfeed();
    expect(writes).toBe(2); // ...and the frame: nothing per step
    expect(store.getState().frame).toMatchObject({ quality: 'full', steps: 10 });
    expect(activity[0]).toEqual({ quality: 'full', step: 0, totalSteps: 10 });
    expect(activity.slice(1, -1).map((a) => a?.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(activity.at(-1)).toBeNull();
    expect(store.getState().renderStatus).toEqual({ kind: 'idle' });
  });

  it('posts the next held frame before it presents the one that arrived, and never reacts to its own frame', async () => {
    const seen: { renderId: number; samplesPosted: number }[] = [];
    const { store, deps } = setup({
      student: true,
      // Runs before the loop's own listener: what the engine was asked for when each frame reached the store.
      beforeLoop: (s, d) =>
        s.subscribe((state, previous) => {
          if (state.frame !== previous.frame && state.frame)
            seen.push({ renderId: state.frame.renderId, samplesPosted: mainSamples(d).length });
        }),
    });
    await store.getState().start({ steps: 10 });
    await deps.engine.releaseSample(); // the student's first frame: the full sampler's is posted before it shows
    expect(seen.at(-1)).toEqual({ renderId: 1, samplesPosted: 2 });
    await deps.engine.releaseSample();
    expect(store.getState().frame).toMatchObject({ quality: 'full', steps: 10 });

    store.getState().beginAdjust();
    store.getState().setLatentValue(0, 1);
    store.getState().setLatentValue(0, 2); // while the first held frame runs
    const posted = mainSamples(deps).length;
    await deps.engine.releaseSample();
    // The held frame of z_0 = 2 was posted before the frame of z_0 = 1 reached the store...
    expect(seen.at(-1)).toEqual({ renderId: 3, samplesPosted: posted + 1 });
    expect(mainSamples(deps).at(-1)?.z?.[0]).toBe(2);
    // ...and presenting it posted nothing more: the loop does not watch the frames it presents.
    expect(mainSamples(deps)).toHaveLength(posted + 1);
    await deps.engine.releaseSample();
    expect(mainSamples(deps)).toHaveLength(posted + 1);
    expect(store.getState().frame).toMatchObject({ quality: 'student' });
    expect(store.getState().renderActivity.get()).toBeNull();
  });

  it('shows a held preview of one or two steps as rendering, with no per-step progress', async () => {
    const { store, deps } = setup({ student: true });
    await store.getState().start({ steps: 10 });
    await deps.engine.releaseSample();
    await deps.engine.releaseSample();
    const steps: (number | null)[] = [];
    const feed = store.getState().renderActivity;
    const unfeed = feed.subscribe(() => steps.push(feed.get()?.step ?? null));
    store.getState().beginAdjust();
    store.getState().setLatentValue(0, 1);
    await deps.engine.releaseSample(); // the student's two calls
    unfeed();
    expect(steps).toEqual([0, null]);
  });

  it("asks the student for a prior draw's own sampler (η = 1), as the full render does", async () => {
    const { store, deps } = setup({ student: true });
    await store.getState().start({ steps: 10 }); // no link, no session: a prior draw, settled with η = 1
    await deps.engine.releaseSample();
    await deps.engine.releaseSample();
    store.getState().beginAdjust();
    store.getState().setLatentValue(0, 1);
    expect(mainSamples(deps).at(-1)).toMatchObject({ decoder: 'student', eta: 1 });
    expect(mainSamples(deps).find((c) => c.decoder === undefined)).toMatchObject({ eta: 1 });
    await deps.engine.releaseSample();
  });

  it('looks again at a frame another writer changed: an invalidated frame is rendered again', async () => {
    const { store, deps } = setup();
    await store.getState().start({ steps: 10 });
    await deps.engine.releaseSample();
    const posted = mainSamples(deps).length;
    store.getState().invalidateFrame();
    expect(mainSamples(deps)).toHaveLength(posted + 1);
    await deps.engine.releaseSample();
    expect(store.getState().frame).toMatchObject({ quality: 'full', steps: 10 });
  });

  it("fits a held slider's student frame to the live-frame budget; a discrete change still shows its whole plan", async () => {
    // A model whose call is too big for two in a frame, on a machine too slow for two: the default model on WASM.
    const { store, deps } = setup({
      student: true,
      engineMsPerCall: HELD_FRAME_BUDGET_MS * 0.75,
      denoiserFlops: HELD_FRAME_FLOPS * 0.75,
    });
    await store.getState().start({ steps: 10 });
    await deps.engine.releaseSample();
    await deps.engine.releaseSample();
    store.getState().beginAdjust();
    store.getState().setLatentValue(0, 1);
    expect(mainSamples(deps).at(-1)).toMatchObject({ decoder: 'student', steps: 1 });
    await deps.engine.releaseSample();
    expect(store.getState().frame).toMatchObject({ quality: 'student', steps: 1 });
    store.getState().endAdjust(); // release: the frame on screen shows this z, so the full sampler follows at once
    expect(mainSamples(deps).at(-1)).toMatchObject({ steps: 10 });
    expect(mainSamples(deps).at(-1)?.decoder).toBeUndefined();
    await deps.engine.releaseSample();
    store.getState().setLatentValue(1, 0.5); // a discrete change: the student's whole plan first
    expect(mainSamples(deps).at(-1)).toMatchObject({ decoder: 'student', steps: 2 });
    await deps.engine.releaseSample();
    await deps.engine.releaseSample();
    expect(store.getState().frame).toMatchObject({ quality: 'full', steps: 10 });
    await flush();
  });

  it('runs the whole student plan while held where the model is small or the machine fast, and one call at least', () => {
    const big = HELD_FRAME_FLOPS * 0.75; // two calls do not fit by size
    expect(heldStudentCalls(2, big, null)).toBe(1);
    expect(heldStudentCalls(2, big, HELD_FRAME_BUDGET_MS / 2)).toBe(2); // ...but do at a fast measured pace
    expect(heldStudentCalls(2, big, HELD_FRAME_BUDGET_MS / 2 + 1)).toBe(1);
    expect(heldStudentCalls(2, HELD_FRAME_FLOPS * 4, HELD_FRAME_BUDGET_MS * 4)).toBe(1);
    // A tiny model runs its whole plan however slow the machine is at the moment (a loaded test machine).
    expect(heldStudentCalls(2, HELD_FRAME_FLOPS / 100, HELD_FRAME_BUDGET_MS * 10)).toBe(2);
    expect(heldStudentCalls(4, big, HELD_FRAME_BUDGET_MS / 3)).toBe(3);
    // A student whose first call is not faithful runs at least the calls that are, however slow.
    expect(heldStudentCalls(2, HELD_FRAME_FLOPS * 4, HELD_FRAME_BUDGET_MS * 4, 2)).toBe(2);
  });

  it('keeps a held slider on one plan unless the pace clearly allows more calls', () => {
    const big = HELD_FRAME_FLOPS * 4;
    const justFits = HELD_FRAME_BUDGET_MS / 2; // two calls fill the frame exactly
    expect(heldStudentCalls(2, big, justFits)).toBe(2); // the first held frame: by pace alone
    expect(heldStudentCalls(2, big, justFits, 1, 2)).toBe(2); // two calls already: they still fit
    expect(heldStudentCalls(2, big, justFits, 1, 1)).toBe(1); // one call: two must fit within the margin
    const comfortable = (HELD_FRAME_BUDGET_MS * HELD_UPSHIFT_MARGIN) / 2;
    expect(heldStudentCalls(2, big, comfortable, 1, 1)).toBe(2);
    expect(heldStudentCalls(2, big, justFits + 1, 1, 2)).toBe(1); // over budget: down at once
    expect(heldStudentCalls(4, big, HELD_FRAME_BUDGET_MS / 3, 1, 2)).toBe(2);
    expect(heldStudentCalls(4, big, comfortable / 1.5, 1, 2)).toBe(3);
  });

  it('lets a shorter student image stand in while held only where it measured close to the whole plan', () => {
    const student = (inverted: Record<string, number> | undefined, plan = [999, 500]) => ({
      parameterisation: 'v' as const,
      plan,
      teacherSteps: 20,
      training: {},
      fidelity: inverted ? { inverted } : {},
    });
    expect(fewestFaithfulCalls(undefined)).toBe(1);
    expect(fewestFaithfulCalls(student(undefined))).toBe(1); // nothing measured: today's behaviour
    expect(fewestFaithfulCalls(student({ calls1: 27.3, calls2: 28.9 }))).toBe(1); // fashion-mnist's student
    expect(fewestFaithfulCalls(student({ calls1: 20.4, calls2: 31.5 }))).toBe(2); // an eps student's first call
    expect(fewestFaithfulCalls(student({ calls1: 31.5 - HELD_FIDELITY_SLACK_DB, calls2: 31.5 }))).toBe(1);
    expect(fewestFaithfulCalls(student({ calls1: 10, calls2: 24, calls3: 25 }, [999, 666, 333]))).toBe(2);
  });
});
