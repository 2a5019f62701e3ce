import { bandPath, linePath, niceTicks, scaleX, scaleY, type PlotBox } from '../app/chartPaths';

const WIDTH = 560;
const HEIGHT = 300;
const MARGIN = { left: 56, right: 16, top: 22, bottom: 44 };

/** One curve on the chart: values on the shared log-SNR grid, drawn with `className` (immse.css). */
export interface ChartSeries {
  key: string;
  values: readonly number[];
  className: string;
}

export interface MmseChartProps {
  /** The log-SNR grid α_j, increasing. */
  logSnr: readonly number[];
  series: readonly ChartSeries[];
  /** d, the number of pixel values the errors are summed over: the y axis is in units of d. */
  dimensions: number;
  /** Shaded between two curves (the model against the Gaussian reference: half its area is the likelihood gap). */
  shade?: { upper: readonly number[]; lower: readonly number[] };
  /** The schedule's trained log-SNR range: outside it the chart is greyed, and the estimates do not use the network. */
  trainedLogSnrRange: readonly [number, number] | null;
  /** Along the top: per grid point, which model has the lower discrete curve (index into `winnerClassNames`). */
  winner?: { values: readonly number[]; classNames: readonly string[] };
  ariaLabel: string;
}

/**
 * MMSE against log-SNR, in eps space and summed over the d pixel values: curves on one grid, the trained log-SNR
 * range of the schedule marked (outside it the network was never trained, and the estimates use the Gaussian
 * reference or plain rounding there instead), optionally a shaded gap and a strip saying which model wins where.
 */
export function MmseChart({
  logSnr,
  series,
  dimensions,
  shade,
  trainedLogSnrRange,
  winner,
  ariaLabel,
}: MmseChartProps) {
  const xs = logSnr as number[];
  const all = series.flatMap((s) => s.values as number[]);
  const box: PlotBox = {
    left: MARGIN.left,
    top: MARGIN.top,
    width: WIDTH - MARGIN.left - MARGIN.right,
    height: HEIGHT - MARGIN.top - MARGIN.bottom,
    xMin: xs[0],
    xMax: xs[xs.length - 1],
    yMin: 0,
    yMax: Math.max(dimensions, ...all.filter(Number.isFinite)) * 1.02,
  };
  // Ticks in units of d: quarters up to d, and coarser steps when a curve rises above it (outside the trained range).
  const yTicks = (box.yMax <= dimensions * 1.05 ? [0, 0.25, 0.5, 0.75, 1] : niceTicks(0, box.yMax / dimensions, 5)).map(
    (f) => f * dimensions,
  );
  const xTicks = niceTicks(box.xMin, box.xMax, 8);
  const clampX = (x: number) => Math.min(box.xMax, Math.max(box.xMin, x));
  const trained = trainedLogSnrRange
    ? { from: scaleX(box, clampX(trainedLogSnrRange[0])), to: scaleX(box, clampX(trainedLogSnrRange[1])) }
    : null;
  const step = xs.length > 1 ? (scaleX(box, xs[1]) - scaleX(box, xs[0])) / 2 : 0;
  return (
    <svg className="mmse-chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={ariaLabel}>
      {trained && (
        <g className="chart-trained" data-testid="immse.trainedRange">
          <rect
            className="chart-untrained"
            x={box.left}
            y={box.top}
            width={trained.from - box.left}
            height={box.height}
          />
          <rect
            className="chart-untrained"
            x={trained.to}
            y={box.top}
            width={box.left + box.width - trained.to}
            height={box.height}
          />
          <line x1={trained.from} x2={trained.from} y1={box.top} y2={box.top + box.height} />
          <line x1={trained.to} x2={trained.to} y1={box.top} y2={box.top + box.height} />
          <text x={(trained.from + trained.to) / 2} y={box.top - 6} textAnchor="middle">
            trained range
          </text>
        </g>
      )}
      <g className="chart-grid">
        {yTicks.map((y) => (
          <g key={y}>
            <line x1={box.left} x2={box.left + box.width} y1={scaleY(box, y)} y2={scaleY(box, y)} />
            <text x={box.left - 8} y={scaleY(box, y)} dy="0.32em" textAnchor="end">
              {y === 0 ? '0' : y === dimensions ? 'd' : `${Number((y / dimensions).toFixed(2))}d`}
            </text>
          </g>
        ))}
        {xTicks.map((x) => (
          <text key={x} x={scaleX(box, x)} y={box.top + box.height + 18} textAnchor="middle">
            {x}
          </text>
        ))}
      </g>
      {shade && <path className="chart-gap" d={bandPath(box, xs, shade.upper as number[], shade.lower as number[])} />}
      {series.map((s) => (
        <path key={s.key} className={`chart-line ${s.className}`} d={linePath(box, xs, s.values as number[])} />
      ))}
      {winner && (
        <g className="chart-winner" data-testid="immse.winner">
          {xs.map((x, j) => {
            // Each grid point's cell, clipped to the plot, along its top edge (clear of the curves near zero).
            const from = Math.max(box.left, scaleX(box, x) - step);
            const to = Math.min(box.left + box.width, scaleX(box, x) + step);
            return (
              <rect
                key={x}
                className={winner.classNames[winner.values[j]]}
                x={from}
                y={box.top}
                width={to - from}
                height={5}
              />
            );
          })}
        </g>
      )}
      <text className="chart-axis-label" x={box.left + box.width / 2} y={HEIGHT - 6} textAnchor="middle">
        log-SNR α = log(ᾱ / (1 − ᾱ)): noisier to the left
      </text>
      <text
        className="chart-axis-label"
        transform={`translate(14 ${box.top + box.height / 2}) rotate(-90)`}
        textAnchor="middle"
      >
        MMSE, summed over the d pixels
      </text>
    </svg>
  );
}
