/** SVG path strings for the I-MMSE chart: pure functions of the data and the plot box, tested in Node. */

export interface PlotBox {
  left: number;
  top: number;
  width: number;
  height: number;
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
}

export function scaleX(box: PlotBox, x: number): number {
  return box.left + ((x - box.xMin) / (box.xMax - box.xMin)) * box.width;
}

export function scaleY(box: PlotBox, y: number): number {
  const clamped = Math.min(box.yMax, Math.max(box.yMin, y));
  return box.top + box.height - ((clamped - box.yMin) / (box.yMax - box.yMin)) * box.height;
}

function point(box: PlotBox, x: number, y: number): string {
  return `${scaleX(box, x).toFixed(2)},${scaleY(box, y).toFixed(2)}`;
}

/** A polyline through (xs[i], ys[i]). */
export function linePath(box: PlotBox, xs: readonly number[], ys: readonly number[]): string {
  return xs.map((x, i) => `${i === 0 ? 'M' : 'L'}${point(box, x, ys[i])}`).join('');
}

/** The closed region between two curves on the same xs: along `upper`, back along `lower`. */
export function bandPath(
  box: PlotBox,
  xs: readonly number[],
  upper: readonly number[],
  lower: readonly number[],
): string {
  const forward = xs.map((x, i) => `${i === 0 ? 'M' : 'L'}${point(box, x, upper[i])}`);
  const back = xs.map((_, i) => xs.length - 1 - i).map((i) => `L${point(box, xs[i], lower[i])}`);
  return `${forward.join('')}${back.join('')}Z`;
}

/** Tick values at multiples of 1, 2 or 5 x 10^k covering [min, max] with about `count` ticks. */
export function niceTicks(min: number, max: number, count: number): number[] {
  const rough = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toFixed(10)));
  return ticks;
}
