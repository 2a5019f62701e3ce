import type { TaskStatus } from '../state/types';

interface TaskStatusLineProps {
  status: TaskStatus;
  /** Shown with a Cancel button while running. */
  onCancel?: () => void;
  /** Names the task for the progress bar and the cancel button ("traversal"). */
  name: string;
}

/** A long job's progress with a cancel button, or its error in the engine's words. */
export function TaskStatusLine({ status, onCancel, name }: TaskStatusLineProps) {
  if (status.kind === 'error') {
    return (
      <p className="status status-error" role="alert">
        {status.message}
      </p>
    );
  }
  if (status.kind !== 'running') return null;
  const fraction = status.total > 0 ? status.done / status.total : null;
  return (
    <div className="status status-running" role="status">
      <span className="status-label">
        {status.label}
        {status.total > 0 ? ` ${status.done} / ${status.total}` : '…'}
      </span>
      <progress aria-label={`${name} progress`} max={1} value={fraction ?? undefined} />
      {onCancel && (
        <button type="button" className="button button-quiet" onClick={onCancel}>
          Cancel {name}
        </button>
      )}
    </div>
  );
}
