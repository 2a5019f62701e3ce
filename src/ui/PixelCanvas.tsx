import { useEffect, useRef } from 'react';
import type { Frame } from '../state/types';

/** Draws RGBA pixels onto a canvas context at their own size; CSS enlarges them without smoothing. */
export function drawFrame(canvas: HTMLCanvasElement, frame: Pick<Frame, 'rgba' | 'size'>): void {
  if (canvas.width !== frame.size || canvas.height !== frame.size) {
    canvas.width = frame.size;
    canvas.height = frame.size;
  }
  const context = canvas.getContext('2d');
  context?.putImageData(new ImageData(frame.rgba as Uint8ClampedArray<ArrayBuffer>, frame.size, frame.size), 0, 0);
}

interface PixelCanvasProps {
  frame: Pick<Frame, 'rgba' | 'size'> | null;
  /** Accessible name: the canvas is an image. */
  label: string;
  className?: string;
  testId?: string;
}

/** A model-sized image: a canvas with role="img", redrawn whenever `frame` is replaced. */
export function PixelCanvas({ frame, label, className, testId }: PixelCanvasProps) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (ref.current && frame) drawFrame(ref.current, frame);
  }, [frame]);
  return (
    <canvas
      ref={ref}
      role="img"
      aria-label={label}
      className={`pixel-canvas ${className ?? ''}`}
      data-empty={frame ? undefined : true}
      data-testid={testId}
    />
  );
}
