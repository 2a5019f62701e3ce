import { useEffect, useId, useState } from 'react';
import { useAction, useHasFrame, useTrajectory, useTrajectoryPosition } from '../state/hooks';
import { PauseIcon, PlayIcon } from './icons';
import { PixelCanvas } from './PixelCanvas';
import { TaskStatusLine } from './TaskStatusLine';

/** How long each step shows while playing. */
const PLAY_STEP_MS = 400;

/** The denoising trajectory: x_t and the predicted x0 after every DDIM step, scrubbable and playable. */
export function TrajectoryPanel() {
  const trajectory = useTrajectory();
  const position = useTrajectoryPosition();
  const hasFrame = useHasFrame();
  const runTrajectory = useAction('runTrajectory');
  const setTrajectoryPosition = useAction('setTrajectoryPosition');
  const [playing, setPlaying] = useState(false);
  const id = useId();
  const steps = trajectory.steps;
  const current = steps[position] ?? null;

  useEffect(() => {
    if (!playing) return;
    const timer = setInterval(
      () => setTrajectoryPosition(position + 1 >= steps.length ? 0 : position + 1),
      PLAY_STEP_MS,
    );
    return () => clearInterval(timer);
  }, [playing, position, steps.length, setTrajectoryPosition]);

  return (
    <div className="tool-body">
      <div className="explain">
        <h3>Denoising trajectory</h3>
        <p>
          DDIM starts from pure noise x<sub>T</sub> and takes a few big steps towards an image. At every step the
          network predicts the noise in the current x<sub>t</sub>; from it follows a guess of the finished image, the
          predicted x<sub>0</sub>. The next x<sub>t</sub> mixes that guess with the predicted noise at a lower noise
          level. Early guesses are blurry averages (what every image consistent with the noise and z has in common);
          detail appears as the noise level drops. The latent z steers every step.
        </p>
      </div>
      <div className="tool-controls">
        <button type="button" className="button" disabled={!hasFrame} onClick={() => void runTrajectory()}>
          Show the trajectory of the current image
        </button>
      </div>
      <TaskStatusLine status={trajectory.status} name="trajectory" />
      {current && (
        <div className="trajectory-view">
          <figure>
            <PixelCanvas frame={current.xt} label={`x_t after step ${current.step}`} className="teaching-canvas" />
            <figcaption>
              x<sub>t</sub> after step {current.step}
            </figcaption>
          </figure>
          <figure>
            <PixelCanvas
              frame={current.x0Pred}
              label={`Predicted x0 at step ${current.step}`}
              className="teaching-canvas"
            />
            <figcaption>
              Predicted x<sub>0</sub> (network evaluated at t = {current.t})
            </figcaption>
          </figure>
          <div className="player-controls trajectory-controls">
            <button
              type="button"
              className="icon-button"
              aria-label={playing ? 'Pause trajectory' : 'Play trajectory'}
              onClick={() => setPlaying(!playing)}
              disabled={steps.length < 2}
            >
              {playing ? <PauseIcon /> : <PlayIcon />}
            </button>
            <label htmlFor={id}>Step</label>
            <input
              id={id}
              type="range"
              min={0}
              max={Math.max(0, steps.length - 1)}
              step={1}
              value={position}
              onChange={(event) => {
                setPlaying(false);
                setTrajectoryPosition(Number(event.target.value));
              }}
            />
            <span className="hint">
              {current.step} / {steps.length}
            </span>
          </div>
        </div>
      )}
    </div>
  );
}
