// A small seeded random source, so simulations and fit restarts repeat exactly from a seed.

export interface Rng {
  /** Uniform on the open interval (0, 1): safe to take the log of. */
  uniform(): number;
  normal(): number;
  /** Gamma with the given shape and rate (mean shape / rate). */
  gamma(shape: number, rate: number): number;
  beta(a: number, b: number): number;
  /** Exponential with the given rate (mean 1 / rate). */
  exponential(rate: number): number;
}

/** mulberry32: 32 bits of state, good enough for simulation, not for secrets. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) + 0.5; // in [0.5, 2^32 − 0.5]: never 0 after scaling
  };
}

export function createRng(seed: number): Rng {
  const next32 = mulberry32(seed);
  const uniform = (): number => next32() / 4294967296;
  const normal = (): number => {
    // Marsaglia polar method; the second value is dropped to keep the generator stateless beyond the seed.
    for (;;) {
      const u = 2 * uniform() - 1;
      const v = 2 * uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) return u * Math.sqrt((-2 * Math.log(s)) / s);
    }
  };
  const standardGamma = (shape: number): number => {
    if (shape < 1) {
      // boost: Gamma(k) = Gamma(k + 1) · U^(1/k)
      return standardGamma(shape + 1) * Math.pow(uniform(), 1 / shape);
    }
    // Marsaglia & Tsang (2000)
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = uniform();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  };
  return {
    uniform,
    normal,
    gamma: (shape, rate) => standardGamma(shape) / rate,
    beta: (a, b) => {
      const x = standardGamma(a);
      return x / (x + standardGamma(b));
    },
    exponential: (rate) => -Math.log(uniform()) / rate,
  };
}
