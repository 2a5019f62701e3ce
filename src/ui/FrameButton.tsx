import type { Frame } from '../state/types';
import { PixelCanvas } from './PixelCanvas';

/** One image of a strip, grid or traversal that makes its (z, x_T) current when clicked. */
export function FrameButton({
  frame,
  label,
  actionLabel,
  onClick,
}: {
  frame: Frame;
  /** What the image shows (the canvas's name). */
  label: string;
  /** What the click does (the button's name). */
  actionLabel: string;
  onClick: () => void;
}) {
  return (
    <button type="button" className="frame-button" aria-label={actionLabel} onClick={onClick}>
      <PixelCanvas frame={frame} label={label} />
    </button>
  );
}
