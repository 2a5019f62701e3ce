import type { KeyboardEvent } from 'react';
import { useAction } from '../state/hooks';

/** The keys by which a range input changes its value (arrows, Page Up/Down, Home, End). */
const VALUE_KEYS = new Set(['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'PageUp', 'PageDown', 'Home', 'End']);

/**
 * The event handlers that tell the store when a slider over z is held (`beginAdjust` / `endAdjust`), which the
 * render loop paces with live previews (src/state/renderLoop.ts). A pointer on the slider holds it until it is
 * released anywhere. A key held down holds it from its first auto-repeat; a single press is a discrete change,
 * which shows the student's whole plan at once and then the full sampler's image, as a click on the track does.
 */
export function useSliderHold() {
  const beginAdjust = useAction('beginAdjust');
  const endAdjust = useAction('endAdjust');
  return {
    onPointerDown: () => {
      beginAdjust();
      // The pointer may be released outside the slider; the window always hears it.
      window.addEventListener('pointerup', endAdjust, { once: true });
      window.addEventListener('pointercancel', endAdjust, { once: true });
    },
    onKeyDown: (event: KeyboardEvent) => {
      if (event.repeat && VALUE_KEYS.has(event.key)) beginAdjust();
    },
    onKeyUp: endAdjust,
    onBlur: endAdjust,
  };
}
