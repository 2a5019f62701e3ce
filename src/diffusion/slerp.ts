/**
 * Spherical interpolation of flat float32 vectors: x_T between two images (src/latent/latentMath re-exports it for
 * the main thread) and the engine's step noise between two sources (src/engine/stepNoise.ts). No tfjs import.
 */

/**
 * Spherical interpolation of two x_T, as InfoDiffusion interpolates inverted noise: theta = arccos of the
 * cosine similarity. Nearly parallel inputs fall back to the straight line, where slerp's 1/sin(theta) blows up.
 */
export function slerp(a: Float32Array, b: Float32Array, e: number): Float32Array {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i += 1) {
    dot += a[i] * b[i];
    normA += a[i] * a[i];
    normB += b[i] * b[i];
  }
  const cosine = Math.min(1, Math.max(-1, dot / Math.sqrt(normA * normB || 1)));
  const theta = Math.acos(cosine);
  const out = new Float32Array(a.length);
  if (Math.sin(theta) < 1e-6) {
    for (let i = 0; i < a.length; i += 1) out[i] = (1 - e) * a[i] + e * b[i];
    return out;
  }
  const wa = Math.sin((1 - e) * theta) / Math.sin(theta);
  const wb = Math.sin(e * theta) / Math.sin(theta);
  for (let i = 0; i < a.length; i += 1) out[i] = wa * a[i] + wb * b[i];
  return out;
}
