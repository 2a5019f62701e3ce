import { useRef, type KeyboardEvent } from 'react';
import { useAction, useActiveTool } from '../state/hooks';
import type { ToolId } from '../state/viewSlice';
import { AttributePanel } from './AttributePanel';
import { EditTransferPanel } from './EditTransferPanel';
import { ImmsePanel } from './ImmsePanel';
import { InterpolationPanel } from './InterpolationPanel';
import { LibraryPanel } from './LibraryPanel';
import { NoisingPanel } from './NoisingPanel';
import { SwapGridPanel } from './SwapGridPanel';
import { TrajectoryPanel } from './TrajectoryPanel';
import { TraversalPanel } from './TraversalPanel';

const TOOLS: { id: ToolId; label: string; Panel: () => React.JSX.Element }[] = [
  { id: 'attributes', label: 'Attributes', Panel: AttributePanel },
  { id: 'edits', label: 'Edit transfer', Panel: EditTransferPanel },
  { id: 'z-vs-noise', label: 'z vs x_T', Panel: SwapGridPanel },
  { id: 'interpolate', label: 'Interpolate', Panel: InterpolationPanel },
  { id: 'traverse', label: 'Traversals', Panel: TraversalPanel },
  { id: 'trajectory', label: 'Trajectory', Panel: TrajectoryPanel },
  { id: 'noising', label: 'Forward noising', Panel: NoisingPanel },
  { id: 'immse', label: 'I-MMSE', Panel: ImmsePanel },
  { id: 'library', label: 'Saved', Panel: LibraryPanel },
];

/** The tools below the explorer, as ARIA tabs (arrow keys move between tabs). */
export function ToolTabs() {
  const active = useActiveTool();
  const setActiveTool = useAction('setActiveTool');
  const tabRefs = useRef(new Map<ToolId, HTMLButtonElement>());
  const activeIndex = TOOLS.findIndex((tool) => tool.id === active);

  const onKeyDown = (event: KeyboardEvent) => {
    const offset = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    if (offset === 0) return;
    event.preventDefault();
    const next = TOOLS[(activeIndex + offset + TOOLS.length) % TOOLS.length];
    setActiveTool(next.id);
    tabRefs.current.get(next.id)?.focus();
  };
  const { Panel } = TOOLS[activeIndex];
  return (
    <section className="card tools" aria-label="Tools">
      <div role="tablist" aria-label="Tools" className="tablist" onKeyDown={onKeyDown}>
        {TOOLS.map((tool) => (
          <button
            key={tool.id}
            ref={(element) => {
              if (element) tabRefs.current.set(tool.id, element);
            }}
            type="button"
            role="tab"
            id={`tab-${tool.id}`}
            aria-selected={tool.id === active}
            aria-controls={`panel-${tool.id}`}
            tabIndex={tool.id === active ? 0 : -1}
            className="tab"
            onClick={() => setActiveTool(tool.id)}
          >
            {tool.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${active}`} aria-labelledby={`tab-${active}`} className="tabpanel">
        <Panel />
      </div>
    </section>
  );
}
