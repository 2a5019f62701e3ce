/**
 * The typed `window.__explorerTest` bridge for end-to-end tests (tldraw's EndToEndApi idea): tests ask the app
 * for engine facts instead of scraping the DOM. Installed only under automation (navigator.webdriver) or in
 * the dev server, never for ordinary visitors.
 */
import type { BackendReport, EngineEvent, EngineStats } from './engine/protocol';
import type { ExplorerStore } from './state/store';

export interface ExplorerTestApi {
  /** The backend report of the loaded model, or null. */
  backend(): BackendReport | null;
  modelId(): string | null;
  /** renderId of the frame on screen (0 before the first). */
  lastRenderId(): number;
  /** The frame on screen: its id, decoder quality and latency (null before the first frame). */
  frameTiming(): { renderId: number; quality: string | null; latencyMs: number | null };
  /** Sum of the frame's RGBA bytes: equal images give equal checksums. */
  frameChecksum(): number | null;
  z(): number[];
  /** Whether a slider counts as held (the render loop's live previews). */
  adjusting(): boolean;
  /** The engine's stats: tensor count, leaks, recent request timings. Waits behind running jobs. */
  engineStats(): Promise<EngineStats>;
  /** Delivers an engine event to the app as if the engine had sent it (device loss, crash). */
  injectEngineEvent(event: EngineEvent): void;
}

declare global {
  interface Window {
    __explorerTest?: ExplorerTestApi;
  }
}

export function installTestBridge(
  store: ExplorerStore,
  engine: { stats(): Promise<EngineStats> },
  inject: (event: EngineEvent) => void,
): void {
  window.__explorerTest = {
    backend: () => store.getState().backend,
    modelId: () => store.getState().model?.id ?? null,
    lastRenderId: () => store.getState().frame?.renderId ?? 0,
    frameTiming: () => {
      const frame = store.getState().frame;
      return { renderId: frame?.renderId ?? 0, quality: frame?.quality ?? null, latencyMs: frame?.latencyMs ?? null };
    },
    frameChecksum: () => {
      const frame = store.getState().frame;
      return frame ? frame.rgba.reduce((sum, v) => sum + v, 0) : null;
    },
    z: () => store.getState().z.slice(),
    adjusting: () => store.getState().adjusting,
    engineStats: () => engine.stats(),
    injectEngineEvent: inject,
  };
}
