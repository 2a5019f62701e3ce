import { BackendBadge } from './BackendBadge';
import { ModelPicker } from './ModelPicker';

export function Header() {
  return (
    <header className="app-header">
      <div className="brand">
        <span className="brand-mark" aria-hidden="true" />
        <div>
          <h1>InfoDiffusion Explorer</h1>
          <p className="brand-tagline">
            Move through the latent space of a diffusion autoencoder, live in your browser.
          </p>
        </div>
      </div>
      <ModelPicker />
      <BackendBadge />
    </header>
  );
}
