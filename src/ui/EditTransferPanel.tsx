import { useId, useState } from 'react';
import { useCurrentEditSize, useEditTransfer } from '../state/attributeHooks';
import { MAX_STRENGTH, MIN_STRENGTH } from '../state/editSlice';
import { useAction } from '../state/hooks';
import { ImagePicker } from './ImagePicker';
import { PixelCanvas } from './PixelCanvas';
import { TaskStatusLine } from './TaskStatusLine';
import './attributes.css';

/** Edit transfer: the change in z from an image's own code, applied to another image, before and after. */
export function EditTransferPanel() {
  const { transfer, savedEdits, hasReference } = useEditTransfer();
  const editSize = useCurrentEditSize();
  const setEditSource = useAction('setEditSource');
  const setEditStrength = useAction('setEditStrength');
  const setEditTargetFromGallery = useAction('setEditTargetFromGallery');
  const setEditTargetFromSaved = useAction('setEditTargetFromSaved');
  const setEditTargetFromFile = useAction('setEditTargetFromFile');
  const cancelEditTransfer = useAction('cancelEditTransfer');
  const makeEditedTargetCurrent = useAction('makeEditedTargetCurrent');
  const saveCurrentEdit = useAction('saveCurrentEdit');
  const deleteSavedEdit = useAction('deleteSavedEdit');
  const [editName, setEditName] = useState('');
  const nameId = useId();
  const sourceId = useId();
  const strengthId = useId();
  const sourceValue = transfer.source.kind === 'current' ? 'current' : transfer.source.id;
  return (
    <div className="tool-body">
      <div className="explain">
        <h3>Edit transfer</h3>
        <p>
          An edit is how far the sliders have moved z from the image&apos;s own code (its encoding, or the draw it
          started from). Apply it to another image: the edit is added to that image&apos;s code, and both are decoded
          from that image&apos;s own x<sub>T</sub>, before and after side by side. Save an edit to apply it later, with
          a strength.
        </p>
      </div>
      <p className="hint" role="status" aria-label="Current edit">
        {editSize === null
          ? hasReference
            ? 'The current image is unedited: move a slider (latent, attribute or principal) to make an edit.'
            : 'No image yet.'
          : `The current image's edit moves z by ${editSize.toFixed(2)}.`}
      </p>
      <div className="new-attribute-name">
        <label htmlFor={nameId}>Edit name</label>
        <input
          id={nameId}
          type="text"
          value={editName}
          maxLength={60}
          placeholder="e.g. Longer sleeves"
          onChange={(event) => setEditName(event.target.value)}
        />
        <button
          type="button"
          className="button button-secondary button-small"
          disabled={editSize === null}
          onClick={() => {
            void saveCurrentEdit(editName);
            setEditName('');
          }}
        >
          Save this edit
        </button>
      </div>
      {savedEdits.length > 0 && (
        <ul className="examples" aria-label="Saved edits">
          {savedEdits.map((edit) => (
            <li key={edit.id} className="saved-edit">
              <span>
                {edit.name} <span className="hint">(moves z by {Math.hypot(...edit.delta).toFixed(2)})</span>
              </span>
              <button
                type="button"
                className="button button-quiet button-small"
                aria-label={`Delete edit ${edit.name}`}
                onClick={() => void deleteSavedEdit(edit.id)}
              >
                ✕
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="edit-controls">
        <div className="example-source">
          <label htmlFor={sourceId}>Edit to apply</label>
          <select
            id={sourceId}
            value={sourceValue}
            onChange={(event) =>
              setEditSource(
                event.target.value === 'current' ? { kind: 'current' } : { kind: 'saved', id: event.target.value },
              )
            }
          >
            <option value="current">The current image&apos;s edit</option>
            {savedEdits.map((edit) => (
              <option key={edit.id} value={edit.id}>
                {edit.name}
              </option>
            ))}
          </select>
        </div>
        <div className="example-source">
          <label htmlFor={strengthId}>Strength</label>
          <input
            id={strengthId}
            type="range"
            min={MIN_STRENGTH}
            max={MAX_STRENGTH}
            step={0.05}
            value={transfer.strength}
            onChange={(event) => setEditStrength(Number(event.target.value))}
          />
          <output htmlFor={strengthId}>× {transfer.strength.toFixed(2)}</output>
        </div>
      </div>
      <h4>Apply this edit to…</h4>
      <ImagePicker
        purpose="Target"
        verb="Apply to"
        onGallery={(index) => void setEditTargetFromGallery(index)}
        onSaved={(id) => void setEditTargetFromSaved(id)}
        onFile={(file) => void setEditTargetFromFile(file)}
      />
      <TaskStatusLine status={transfer.targetStatus} name="target" onCancel={cancelEditTransfer} />
      <TaskStatusLine status={transfer.status} name="edit transfer" onCancel={cancelEditTransfer} />
      {transfer.target && (
        <div className="before-after" aria-label={`${transfer.target.label}, before and after the edit`} role="group">
          <figure>
            <PixelCanvas frame={transfer.before} label={`${transfer.target.label} before the edit`} />
            <figcaption>Before: {transfer.target.label}</figcaption>
          </figure>
          <figure>
            <PixelCanvas frame={transfer.after} label={`${transfer.target.label} after the edit`} />
            <figcaption>After, strength × {transfer.strength.toFixed(2)}</figcaption>
          </figure>
          <button
            type="button"
            className="button button-secondary button-small"
            disabled={!transfer.after}
            onClick={makeEditedTargetCurrent}
          >
            Make the edited image current
          </button>
        </div>
      )}
    </div>
  );
}
