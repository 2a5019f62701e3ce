/** What is on screen around the explorer itself: the open tool tab and the messages banner. */
import type { StateCreator } from 'zustand';
import type { ExplorerState } from './store';

export type ToolId =
  'attributes' | 'edits' | 'z-vs-noise' | 'interpolate' | 'traverse' | 'trajectory' | 'noising' | 'immse' | 'library';

export interface Notice {
  id: number;
  tone: 'info' | 'warning' | 'error';
  text: string;
}

export interface ViewSlice {
  activeTool: ToolId;
  notices: Notice[];
  setActiveTool(tool: ToolId): void;
  addNotice(tone: Notice['tone'], text: string): void;
  dismissNotice(id: number): void;
}

/** At most this many notices stay; older ones drop off, so a repeating problem cannot fill the page. */
const MAX_NOTICES = 4;

export function createViewSlice(): StateCreator<ExplorerState, [], [], ViewSlice> {
  return (set, get) => ({
    activeTool: 'attributes',
    notices: [],

    setActiveTool(activeTool) {
      set({ activeTool });
    },

    addNotice(tone, text) {
      const notices = get().notices;
      if (notices.some((n) => n.text === text)) return;
      const id = (notices.at(-1)?.id ?? 0) + 1;
      set({ notices: [...notices, { id, tone, text }].slice(-MAX_NOTICES) });
    },

    dismissNotice(id) {
      set({ notices: get().notices.filter((n) => n.id !== id) });
    },
  });
}
