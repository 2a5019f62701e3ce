import { modelCard, type ModelCardRow } from '../app/modelCard';
import { useModelMetadata } from '../state/hooks';

function Rows({ rows }: { rows: ModelCardRow[] }) {
  return (
    <dl className="model-card-rows">
      {rows.map((row) => (
        <div key={row.label}>
          <dt>{row.label}</dt>
          <dd>{row.value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** "About this model": what the loaded model is, how far it was trained and what was measured on it. */
export function ModelCard() {
  const metadata = useModelMetadata();
  if (!metadata) return null;
  const card = modelCard(metadata);
  return (
    <details className="popover model-card" name="header-popover">
      <summary className="button button-secondary" aria-label="About this model" title="About this model">
        About
      </summary>
      <div className="popover-panel model-card-panel" role="region" aria-label="About this model">
        <p>
          <strong>{metadata.displayName}</strong>: {metadata.description}
        </p>
        <Rows rows={card.facts} />
        {card.metrics.length > 0 ? (
          <>
            <h3 className="model-card-heading">Measured (train/infodiff/evaluate.py)</h3>
            <Rows rows={card.metrics} />
          </>
        ) : (
          <p className="hint">The package carries no measurements.</p>
        )}
        {card.notes && <p className="hint">{card.notes}</p>}
      </div>
    </details>
  );
}
