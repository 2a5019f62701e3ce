import { useId, useRef, useState } from 'react';
import { downloadBlob } from '../app/exportImage';
import { describeMethod, type AttributeFit } from '../latent/attributeFit';
import type { OwnAttribute } from '../latent/ownAttribute';
import {
  useAttributeDraft,
  useOwnAttributes,
  useOwnAttributeScore,
  usePrincipal,
  usePrincipalScore,
} from '../state/attributeHooks';
import { explainedShare } from '../latent/principal';
import type { AttributeExample } from '../state/attributeSlice';
import { useAction, useAttributeScore, useLatentDim, useModelMetadata } from '../state/hooks';
import type { AttributeDirection } from '../model/metadata';
import { PixelCanvas } from './PixelCanvas';
import { TaskStatusLine } from './TaskStatusLine';
import './attributes.css';
import { useImageSources } from './ImageSourceSelect';
import { useSliderHold } from './useSliderHold';

/** Scores span this many units either side of the boundary (z has roughly unit spread per direction). */
const SCORE_RANGE = 4;
/** The slider's step; the range ends are integers, so the grid of steps is the multiples of SCORE_STEP. */
const SCORE_STEP = 0.02;

/**
 * A score rounded to the slider's grid and written as the browser writes it ("-0.06", not "-0.0600000001").
 * A range input keeps only on-grid values: given the raw score, it would store the rounded one, and React, seeing
 * the two differ, reports that rounded value as a change, which moved z back each time a key moved it (issue 32).
 */
function onGrid(score: number): string {
  return String(Number((Math.round(score / SCORE_STEP) * SCORE_STEP).toFixed(2)));
}

/**
 * One direction's slider: a native range input over its score. Keys (arrows, Page, Home, End), pointer and
 * programmatic changes all arrive as change events and set the score exactly. The row reads its own score, not a
 * deferred copy of z, so the value React holds is never older than the one the user just set.
 */
function ScoreSlider({
  name,
  score,
  onScore,
  note,
  children,
}: {
  name: string;
  score: number;
  onScore: (score: number) => void;
  /** Said after the name to screen readers and shown as the label's title ("yours, from 2 and 2 examples"). */
  note?: string;
  children?: React.ReactNode;
}) {
  const hold = useSliderHold();
  const id = useId();
  const min = Math.min(-SCORE_RANGE, Math.floor(score));
  const max = Math.max(SCORE_RANGE, Math.ceil(score));
  return (
    <li className={children ? 'attribute-row attribute-row-own' : 'attribute-row'}>
      <label htmlFor={id} title={note}>
        {name}
      </label>
      <input
        id={id}
        type="range"
        aria-label={`Attribute ${name}`}
        aria-description={note}
        min={min}
        max={max}
        step={SCORE_STEP}
        value={onGrid(score)}
        {...hold}
        onChange={(event) => onScore(Number(event.target.value))}
      />
      <output htmlFor={id} className={score >= 0 ? 'attribute-positive' : 'attribute-negative'}>
        {score >= 0 ? '+' : ''}
        {score.toFixed(2)}
      </output>
      {children}
    </li>
  );
}

function PackageSlider({ direction, index }: { direction: AttributeDirection; index: number }) {
  const score = useAttributeScore(index);
  const setAttributeScore = useAction('setAttributeScore');
  if (score === null) return null;
  return <ScoreSlider name={direction.name} score={score} onScore={(value) => setAttributeScore(index, value)} />;
}

function ownNote(attribute: OwnAttribute): string {
  const examples =
    attribute.positives + attribute.negatives > 0
      ? ` from ${attribute.positives} images with it and ${attribute.negatives} without`
      : ' (from a link)';
  return `Yours, ${describeMethod(attribute.method).replace(/ \(.*\)$/, '')}${examples}`;
}

function OwnSlider({ attribute }: { attribute: OwnAttribute }) {
  const score = useOwnAttributeScore(attribute.id);
  const setOwnAttributeScore = useAction('setOwnAttributeScore');
  const deleteOwnAttribute = useAction('deleteOwnAttribute');
  if (score === null) return null;
  return (
    <ScoreSlider
      name={attribute.name}
      score={score}
      note={ownNote(attribute)}
      onScore={(value) => setOwnAttributeScore(attribute.id, value)}
    >
      <button
        type="button"
        className="button button-quiet button-small"
        aria-label={`Delete attribute ${attribute.name}`}
        onClick={() => void deleteOwnAttribute(attribute.id)}
      >
        ✕
      </button>
    </ScoreSlider>
  );
}

/** The own attributes of this model: sliders, and the file export and import. */
function OwnAttributes() {
  const own = useOwnAttributes();
  const { attributeImport } = useAttributeDraft();
  const exportOwnAttributes = useAction('exportOwnAttributes');
  const importOwnAttributes = useAction('importOwnAttributes');
  const metadata = useModelMetadata();
  const fileInput = useRef<HTMLInputElement>(null);
  return (
    <div className="attribute-group attribute-group-own">
      <h4>Your attributes</h4>
      {own.length === 0 ? (
        <p className="hint">None yet: make one below, or import a file.</p>
      ) : (
        <ul aria-label="Your attributes">
          {own.map((attribute) => (
            <OwnSlider key={attribute.id} attribute={attribute} />
          ))}
        </ul>
      )}
      <div className="button-row">
        <button
          type="button"
          className="button button-secondary button-small"
          disabled={own.length === 0}
          onClick={() => {
            const text = exportOwnAttributes();
            if (text)
              downloadBlob(
                new Blob([text], { type: 'application/json' }),
                `${metadata?.id ?? 'model'}-attributes.json`,
              );
          }}
        >
          Export attributes
        </button>
        <button
          type="button"
          className="button button-secondary button-small"
          onClick={() => fileInput.current?.click()}
        >
          Import attributes…
        </button>
        <input
          ref={fileInput}
          type="file"
          accept="application/json,.json"
          aria-label="Attribute file to import"
          className="visually-hidden-input"
          onChange={(event) => {
            const file = event.target.files?.[0];
            event.target.value = '';
            if (file) void file.text().then((text) => importOwnAttributes(text));
          }}
        />
      </div>
      {attributeImport.kind === 'error' && (
        <p className="status status-error" role="alert">
          The file was not imported: {attributeImport.message}
        </p>
      )}
      {attributeImport.kind === 'done' && (
        <p className="hint" role="status">
          {attributeImport.count === 0
            ? 'Imported nothing new: these attributes are already here.'
            : `Imported ${attributeImport.count} attribute${attributeImport.count === 1 ? '' : 's'}.`}
        </p>
      )}
    </div>
  );
}

/** How many principal directions are listed before "Show all". */
const PRINCIPAL_SHOWN = 6;

function PrincipalSlider({ k, share }: { k: number; share: number }) {
  const score = usePrincipalScore(k);
  const setPrincipalScore = useAction('setPrincipalScore');
  if (score === null) return null;
  const percent = share >= 0.1 ? `${Math.round(share * 100)}%` : `${(share * 100).toFixed(1)}%`;
  return (
    <ScoreSlider
      name={`PC ${k + 1} · ${percent}`}
      note={`Principal direction ${k + 1}: explains ${percent} of the code variance`}
      score={score}
      onScore={(value) => setPrincipalScore(k, value)}
    />
  );
}

/**
 * The principal directions of the codes, as sliders: listed by the share of code variance each explains until
 * ranked by how much each changes the image on screen.
 */
function PrincipalDirections() {
  const { principal, ranking } = usePrincipal();
  const rankPrincipal = useAction('rankPrincipal');
  const cancelPrincipalRanking = useAction('cancelPrincipalRanking');
  const [showAll, setShowAll] = useState(false);
  if (!principal || principal.components.length === 0) return null;
  const order = ranking.order ?? principal.components.map((_, k) => k);
  const shown = showAll ? order : order.slice(0, PRINCIPAL_SHOWN);
  const source =
    principal.source === 'package'
      ? `the codes of ${principal.fittedOn.toLocaleString('en')} training images`
      : principal.source === 'fitted mixture'
        ? "the package's fitted latent mixture (it ships no principal directions)"
        : "the package's per-dimension spread (it ships no principal directions or mixture)";
  return (
    <div className="attribute-group attribute-group-principal">
      <h4>Principal directions</h4>
      <p className="hint">
        The axes the codes vary most along, from {source}; each label gives the share of code variance it explains, the
        value is the code&apos;s coordinate along it from the training mean.{' '}
        {ranking.order
          ? 'Ranked by how much each changes the image on screen when it was ranked.'
          : 'Listed by variance explained.'}
      </p>
      <ul aria-label="Principal directions">
        {shown.map((k) => (
          <PrincipalSlider key={k} k={k} share={explainedShare(principal, k)} />
        ))}
      </ul>
      <div className="button-row">
        <button
          type="button"
          className="button button-secondary button-small"
          disabled={ranking.status.kind === 'running'}
          onClick={() => void rankPrincipal()}
        >
          Rank by effect on the image
        </button>
        {order.length > PRINCIPAL_SHOWN && (
          <button
            type="button"
            className="button button-quiet button-small"
            aria-expanded={showAll}
            onClick={() => setShowAll(!showAll)}
          >
            {showAll ? `Show the first ${PRINCIPAL_SHOWN}` : `Show all ${order.length}`}
          </button>
        )}
      </div>
      <TaskStatusLine status={ranking.status} name="ranking" onCancel={cancelPrincipalRanking} />
    </div>
  );
}

/**
 * Where each example sits along the fitted direction: positives above the line, negatives below, the boundary
 * (score 0) in the middle. A picture of "how well it separates", beside the numbers.
 */
function SeparationStrip({ fit }: { fit: AttributeFit }) {
  const scores = [...fit.positiveScores, ...fit.negativeScores];
  const extent = Math.max(1, ...scores.map(Math.abs)) * 1.1;
  const x = (s: number) => 165 + (s / extent) * 120;
  return (
    <svg
      className="separation-strip"
      viewBox="0 0 300 44"
      role="img"
      aria-label={`Scores of the examples along the direction: with the attribute ${fit.positiveScores.map((s) => s.toFixed(1)).join(', ')}; without ${fit.negativeScores.map((s) => s.toFixed(1)).join(', ')}`}
    >
      <text x={2} y={10} className="separation-label">
        with
      </text>
      <text x={2} y={42} className="separation-label">
        without
      </text>
      <line x1={40} x2={290} y1={22} y2={22} className="separation-axis" />
      <line x1={165} x2={165} y1={4} y2={40} className="separation-boundary" />
      {fit.positiveScores.map((s, i) => (
        <circle key={`p${i}`} cx={x(s)} cy={13} r={4} className="separation-positive" />
      ))}
      {fit.negativeScores.map((s, i) => (
        <circle key={`n${i}`} cx={x(s)} cy={31} r={4} className="separation-negative" />
      ))}
    </svg>
  );
}

function FitSummary({ fit }: { fit: AttributeFit }) {
  return (
    <div className="fit-summary" role="status" aria-label="Fit">
      <p>
        Fitted by <strong>{describeMethod(fit.method)}</strong>. It puts{' '}
        <strong>
          {fit.correct} of {fit.total}
        </strong>{' '}
        examples on their own side
        {fit.gap > 0
          ? `, with a gap of ${fit.gap.toFixed(2)} between the two groups`
          : `; the groups overlap by ${(-fit.gap).toFixed(2)}`}
        {fit.leaveOneOutCorrect !== null &&
          `; each left out in turn, ${fit.leaveOneOutCorrect} of ${fit.total} land on their side`}
        .
      </p>
      <SeparationStrip fit={fit} />
    </div>
  );
}

function ExampleItem({ example }: { example: AttributeExample }) {
  const setExampleHas = useAction('setExampleHas');
  const removeExample = useAction('removeExample');
  return (
    <li className={example.has ? 'example example-has' : 'example example-lacks'}>
      <PixelCanvas frame={example.thumbnail} label={example.label} />
      <span className="example-label">{example.label}</span>
      <button
        type="button"
        className="button button-quiet button-small"
        aria-label={`${example.label} ${example.has ? 'has it' : 'lacks it'}: mark it the other way`}
        onClick={() => setExampleHas(example.key, !example.has)}
      >
        {example.has ? 'has it' : 'lacks it'}
      </button>
      <button
        type="button"
        className="button button-quiet button-small"
        aria-label={`Remove example ${example.label}`}
        onClick={() => removeExample(example.key)}
      >
        ✕
      </button>
    </li>
  );
}

/** "New attribute": a name, examples marked with and without, the fit, and "Add slider". */
function NewAttribute() {
  const { draft, exampleStatus } = useAttributeDraft();
  const setAttributeDraftName = useAction('setAttributeDraftName');
  const addCurrentExample = useAction('addCurrentExample');
  const addGalleryExample = useAction('addGalleryExample');
  const addSavedExample = useAction('addSavedExample');
  const addFileExample = useAction('addFileExample');
  const fileInput = useRef<HTMLInputElement>(null);
  const fileHas = useRef(true);
  const saveAttributeDraft = useAction('saveAttributeDraft');
  const clearAttributeDraft = useAction('clearAttributeDraft');
  const nameId = useId();
  const { galleryIndex, gallerySelect, chosenSaved, savedSelect } = useImageSources({
    gallery: 'Gallery image',
    saved: 'Saved latent',
  });
  const positives = draft.examples.filter((e) => e.has);
  const negatives = draft.examples.filter((e) => !e.has);
  const canSave = draft.fit.kind === 'fit' && draft.name.trim().length > 0;
  return (
    <section className="new-attribute" aria-labelledby={`${nameId}-title`}>
      <h4 id={`${nameId}-title`}>New attribute</h4>
      <p className="hint">
        Name it and mark at least two images that have it and two that do not. The current image counts (pick a
        traversal or interpolation cell to make it current), and so do gallery images, saved latents and image files.
        With fewer than five a side the direction is the difference of the two groups&apos; mean codes; from five a
        side, regularised logistic regression.
      </p>
      <div className="new-attribute-name">
        <label htmlFor={nameId}>Name</label>
        <input
          id={nameId}
          type="text"
          value={draft.name}
          maxLength={60}
          placeholder="e.g. Trouser-ness"
          onChange={(event) => setAttributeDraftName(event.target.value)}
        />
      </div>
      <div className="example-sources">
        <div className="example-source">
          <span>Current image</span>
          <button type="button" className="button button-small" onClick={() => addCurrentExample(true)}>
            Current has it
          </button>
          <button
            type="button"
            className="button button-secondary button-small"
            onClick={() => addCurrentExample(false)}
          >
            Current lacks it
          </button>
        </div>
        {gallerySelect && (
          <div className="example-source">
            {gallerySelect}
            <button
              type="button"
              className="button button-small"
              onClick={() => void addGalleryExample(galleryIndex, true)}
            >
              Gallery image has it
            </button>
            <button
              type="button"
              className="button button-secondary button-small"
              onClick={() => void addGalleryExample(galleryIndex, false)}
            >
              Gallery image lacks it
            </button>
          </div>
        )}
        {savedSelect && chosenSaved && (
          <div className="example-source">
            {savedSelect}
            <button type="button" className="button button-small" onClick={() => addSavedExample(chosenSaved.id, true)}>
              Saved latent has it
            </button>
            <button
              type="button"
              className="button button-secondary button-small"
              onClick={() => addSavedExample(chosenSaved.id, false)}
            >
              Saved latent lacks it
            </button>
          </div>
        )}
        <div className="example-source">
          <span>An image file</span>
          <button
            type="button"
            className="button button-small"
            onClick={() => {
              fileHas.current = true;
              fileInput.current?.click();
            }}
          >
            File has it…
          </button>
          <button
            type="button"
            className="button button-secondary button-small"
            onClick={() => {
              fileHas.current = false;
              fileInput.current?.click();
            }}
          >
            File lacks it…
          </button>
          <input
            ref={fileInput}
            type="file"
            accept="image/*"
            aria-label="Example image file"
            className="visually-hidden-input"
            onChange={(event) => {
              const file = event.target.files?.[0];
              event.target.value = '';
              if (file) void addFileExample(file, fileHas.current);
            }}
          />
        </div>
      </div>
      <TaskStatusLine status={exampleStatus} name="example" />
      <div className="example-columns">
        <div>
          <h5>With it ({positives.length})</h5>
          <ul className="examples" aria-label="Examples with the attribute">
            {positives.map((example) => (
              <ExampleItem key={example.key} example={example} />
            ))}
          </ul>
        </div>
        <div>
          <h5>Without it ({negatives.length})</h5>
          <ul className="examples" aria-label="Examples without the attribute">
            {negatives.map((example) => (
              <ExampleItem key={example.key} example={example} />
            ))}
          </ul>
        </div>
      </div>
      {draft.fit.kind === 'fit' ? <FitSummary fit={draft.fit.fit} /> : <p className="hint">{draft.fit.reason}</p>}
      <div className="button-row">
        <button type="button" className="button" disabled={!canSave} onClick={() => void saveAttributeDraft()}>
          Add slider
        </button>
        <button
          type="button"
          className="button button-quiet"
          disabled={draft.examples.length === 0 && draft.name === ''}
          onClick={clearAttributeDraft}
        >
          Start over
        </button>
      </div>
      {draft.fit.kind === 'fit' && draft.name.trim().length === 0 && <p className="hint">Name it to add its slider.</p>}
    </section>
  );
}

/** Sliders along the model's attribute directions and the person's own, applied to the current z (locked dimensions stay). */
export function AttributePanel() {
  const metadata = useModelMetadata();
  const latentDim = useLatentDim();
  const directions = metadata?.attributeDirections ?? [];
  const groups = [...new Set(directions.map((d) => d.group))];
  return (
    <div className="tool-body">
      <div className="explain">
        <h3>Attribute directions</h3>
        <p>
          Each slider moves z along a direction found by a linear classifier on encoded training images. The value is
          the signed distance from the classifier&apos;s boundary: positive means the model&apos;s code reads as that
          attribute. Moving one slider changes z along that direction only, so the others may move too when directions
          overlap. Your own attributes work the same way, fitted to images you mark.
        </p>
      </div>
      <div className="attribute-groups">
        {directions.length === 0 && <p className="hint">This model ships no attribute directions.</p>}
        {groups.map((group) => (
          <div key={group} className="attribute-group">
            <h4>{group}</h4>
            <ul>
              {directions.map((direction, index) =>
                direction.group === group && latentDim === direction.vector.length ? (
                  <PackageSlider key={direction.name} direction={direction} index={index} />
                ) : null,
              )}
            </ul>
          </div>
        ))}
        <OwnAttributes />
        <PrincipalDirections />
      </div>
      <NewAttribute />
    </div>
  );
}
