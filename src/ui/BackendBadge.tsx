import { useBackend, useLoadedModel } from '../state/hooks';

const BACKEND_LABELS = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WebAssembly', cpu: 'CPU' } as const;

/** Which backend runs the model, on which adapter, and why it was chosen. */
export function BackendBadge() {
  const { backend } = useBackend();
  const model = useLoadedModel();
  if (!backend) return null;
  const adapter = backend.adapter;
  const adapterName = adapter
    ? [adapter.description || adapter.architecture, adapter.vendor].filter(Boolean).join(' · ')
    : null;
  return (
    <details className="popover backend-badge" name="header-popover">
      <summary aria-label={`Backend: ${BACKEND_LABELS[backend.backend]}`}>
        <span className={`backend-dot backend-${backend.backend}`} aria-hidden="true" />
        {BACKEND_LABELS[backend.backend]}
        {adapterName && <span className="backend-adapter">{adapterName}</span>}
      </summary>
      <div className="popover-panel backend-details">
        <p>
          <strong>Why:</strong> {backend.reason}
        </p>
        {adapter && (
          <p>
            <strong>Adapter:</strong>{' '}
            {[adapter.vendor, adapter.architecture, adapter.device, adapter.description].filter(Boolean).join(', ') ||
              'unnamed'}
            {adapter.isFallbackAdapter ? ' (software)' : ''}
          </p>
        )}
        {backend.probes.length > 0 && (
          <ul className="probe-list">
            {backend.probes.map((probe) => (
              <li key={probe.backend}>
                <span className={probe.usable ? 'probe-ok' : 'probe-no'}>{probe.usable ? 'usable' : 'not used'}</span>{' '}
                {BACKEND_LABELS[probe.backend]}: {probe.note}
              </li>
            ))}
          </ul>
        )}
        {model && (
          <p className="hint">
            Weights read in {Math.round(model.loadMs)} ms, shaders compiled in {Math.round(model.compileMs)} ms;{' '}
            {(model.stats.parameters / 1e6).toFixed(2)} M parameters, {(model.stats.denoiserFlops / 1e9).toFixed(2)}{' '}
            GFLOP per denoiser call.
          </p>
        )}
      </div>
    </details>
  );
}
