/** Nearest-rank percentile (p in 0..100) of a sample; NaN when empty. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i] as number;
}

/** Median of the finite values; NaN when there are none. */
export function median(xs: readonly number[]): number {
  const f = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (f.length === 0) return Number.NaN;
  const m = Math.floor(f.length / 2);
  return f.length % 2 ? (f[m] as number) : ((f[m - 1] as number) + (f[m] as number)) / 2;
}

export const perSecond = (events: number, ms: number): number => (ms > 0 ? (events * 1000) / ms : Number.NaN);
