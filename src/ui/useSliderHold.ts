import type { KeyboardEvent } from 'react';
import { useAction } from '../state/hooks';

/** The keys by which a range input changes its value (arrows, Page Up/Down, Home, End). */
const VALUE_KEYS = new Set(['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'PageUp', 'PageDown', 'Home', 'End']);

/**
 * The event handlers that tell the store when a slider over z is held (`beginAdjust` / `endAdjust`), which the
 * render loop paces with live previews (src/state/renderLoop.ts). A pointer on the slider holds it until it is
 * released anywhere; a value key holds it until the key is released, so a press, like a click on the track, shows
 * a preview at once and the full sampler's image on release, and a key held down (auto-repeat) is a drag. Treated
 * as a discrete change instead, a key pressed every few hundred milliseconds would show nothing on a model without
 * a student: each full-sampler render is superseded by the next press before it lands.
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
      if (VALUE_KEYS.has(event.key)) beginAdjust();
    },
    onKeyUp: endAdjust,
    onBlur: endAdjust,
  };
}
