import { describe, expect, it } from 'vitest';
import { bandPath, linePath, niceTicks, scaleY, type PlotBox } from './chartPaths';

const BOX: PlotBox = { left: 10, top: 0, width: 100, height: 50, xMin: 0, xMax: 10, yMin: 0, yMax: 5 };

describe('chart paths', () => {
  it('maps data to the box with y pointing up', () => {
    expect(linePath(BOX, [0, 10], [0, 5])).toBe('M10.00,50.00L110.00,0.00');
  });
  it('clamps values outside the y range to the box edge', () => {
    expect(scaleY(BOX, 99)).toBe(0);
    expect(scaleY(BOX, -1)).toBe(50);
  });
  it('closes a band along the upper curve and back along the lower one', () => {
    expect(bandPath(BOX, [0, 10], [5, 5], [0, 0])).toBe('M10.00,0.00L110.00,0.00L110.00,50.00L10.00,50.00Z');
  });
  it('picks round tick steps', () => {
    expect(niceTicks(-8, 8, 8)).toEqual([-8, -6, -4, -2, 0, 2, 4, 6, 8]);
    expect(niceTicks(0, 1024, 4)).toEqual([0, 500, 1000]);
  });
});
