/**
 * The logistic function in float64, written so that neither branch overflows. With α the log-SNR,
 * σ(α) = ᾱ and σ(-α) = 1 - ᾱ without the cancellation of computing 1 - ᾱ.
 */
export function sigmoid(a: number): number {
  if (a >= 0) return 1 / (1 + Math.exp(-a));
  const e = Math.exp(a);
  return e / (1 + e);
}
