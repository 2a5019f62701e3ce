import { useEffect, useId, useState } from 'react';
import type { Frame } from '../state/types';
import { PauseIcon, PlayIcon } from './icons';
import { PixelCanvas } from './PixelCanvas';

interface FramePlayerProps {
  frames: readonly Frame[];
  /** Names the player: "Interpolation player", "Trajectory" ... */
  label: string;
  /** Frames per second while playing. */
  fps?: number;
  /** Play forwards then backwards, so an interpolation sways instead of jumping back. */
  bounce?: boolean;
}

/** Index after `index` in a forwards (or there-and-back) loop over `count` frames. */
export function nextIndex(
  index: number,
  direction: 1 | -1,
  count: number,
  bounce: boolean,
): { index: number; direction: 1 | -1 } {
  if (count <= 1) return { index: 0, direction };
  const next = index + direction;
  if (next >= 0 && next < count) return { index: next, direction };
  if (!bounce) return { index: 0, direction };
  return { index: index - direction, direction: direction === 1 ? -1 : 1 };
}

/** A canvas that plays a sequence of frames, with play/pause and a scrubber. */
export function FramePlayer({ frames, label, fps = 6, bounce = true }: FramePlayerProps) {
  const [position, setPosition] = useState({ index: 0, direction: 1 as 1 | -1 });
  const [playing, setPlaying] = useState(false);
  const id = useId();
  const index = Math.min(position.index, Math.max(0, frames.length - 1));

  useEffect(() => {
    if (!playing || frames.length < 2) return;
    const timer = setInterval(
      () => setPosition((p) => nextIndex(p.index, p.direction, frames.length, bounce)),
      1000 / fps,
    );
    return () => clearInterval(timer);
  }, [playing, frames.length, fps, bounce]);

  if (frames.length === 0) return null;
  return (
    <div className="frame-player">
      <PixelCanvas
        frame={frames[index]}
        label={`${label}, frame ${index + 1} of ${frames.length}`}
        className="player-canvas"
      />
      <div className="player-controls">
        <button
          type="button"
          className="icon-button"
          aria-label={playing ? `Pause ${label}` : `Play ${label}`}
          onClick={() => setPlaying(!playing)}
        >
          {playing ? <PauseIcon /> : <PlayIcon />}
        </button>
        <label htmlFor={id} className="visually-hidden">
          {label} frame
        </label>
        <input
          id={id}
          type="range"
          min={0}
          max={frames.length - 1}
          step={1}
          value={index}
          onChange={(event) => {
            setPlaying(false);
            setPosition({ index: Number(event.target.value), direction: 1 });
          }}
        />
        <span className="hint">
          {index + 1}/{frames.length}
        </span>
      </div>
    </div>
  );
}
