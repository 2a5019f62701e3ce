import { bandPath, linePath, niceTicks, scaleX, scaleY, type PlotBox } from '../app/chartPaths';
import type { MmseCurveResult } from '../engine/protocol';

const WIDTH = 560;
const HEIGHT = 300;
const MARGIN = { left: 56, right: 16, top: 16, bottom: 44 };

/**
 * MMSE against log-SNR, in eps space and summed over the d pixels: the model's curve, the Gaussian reference's
 * (what the best linear denoiser achieves) and d·sigmoid(logSnr) of the standard normal, with the gap between
 * the model and the Gaussian reference shaded: half its area is how far -log p(x) sits below the Gaussian's.
 */
export function MmseChart({ curve, dimensions }: { curve: MmseCurveResult; dimensions: number }) {
  const xs = curve.logSnr;
  const box: PlotBox = {
    left: MARGIN.left,
    top: MARGIN.top,
    width: WIDTH - MARGIN.left - MARGIN.right,
    height: HEIGHT - MARGIN.top - MARGIN.bottom,
    xMin: xs[0],
    xMax: xs[xs.length - 1],
    yMin: 0,
    yMax: Math.max(dimensions, ...curve.mmse, ...curve.gaussian) * 1.02,
  };
  // Ticks in units of d: quarters up to d, and coarser steps when a poorly trained model's curve rises above it.
  const yTicks = (box.yMax <= dimensions * 1.05 ? [0, 0.25, 0.5, 0.75, 1] : niceTicks(0, box.yMax / dimensions, 5)).map(
    (f) => f * dimensions,
  );
  const xTicks = niceTicks(box.xMin, box.xMax, 8);
  return (
    <svg
      className="mmse-chart"
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      role="img"
      aria-label="MMSE against log-SNR: the model's curve against the Gaussian baseline"
    >
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
      <path className="chart-gap" d={bandPath(box, xs, curve.gaussian, curve.mmse)} />
      <path className="chart-line chart-normal" d={linePath(box, xs, curve.standardNormal)} />
      <path className="chart-line chart-gaussian" d={linePath(box, xs, curve.gaussian)} />
      <path className="chart-line chart-model" d={linePath(box, xs, curve.mmse)} />
      <text className="chart-axis-label" x={box.left + box.width / 2} y={HEIGHT - 6} textAnchor="middle">
        log-SNR α = log(ᾱ / (1 − ᾱ))
      </text>
      <text
        className="chart-axis-label"
        transform={`translate(14 ${box.top + box.height / 2}) rotate(-90)`}
        textAnchor="middle"
      >
        MMSE (ε space, summed)
      </text>
    </svg>
  );
}
