import { chanceWithin, clamp, Rng, round } from './rng';

describe('Rng', () => {
  it('repeats its sequence for the same seed and differs for another', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const seqA = Array.from({ length: 5 }, () => a.next());

    expect(Array.from({ length: 5 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(seqA);
  });

  it('draws uniformly in [0, 1) and normally around the mean', () => {
    const sut = new Rng(7);
    const uniform = Array.from({ length: 10_000 }, () => sut.next());
    const normal = Array.from({ length: 10_000 }, () => sut.normal(10, 2));
    const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
    const sd = (xs: number[]): number => {
      const m = mean(xs);
      return Math.sqrt(mean(xs.map((x) => (x - m) ** 2)));
    };

    expect(Math.min(...uniform)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...uniform)).toBeLessThan(1);
    expect(mean(uniform)).toBeCloseTo(0.5, 1);
    expect(mean(normal)).toBeCloseTo(10, 0);
    expect(sd(normal)).toBeCloseTo(2, 0);
    expect(normal.every(Number.isFinite)).toBe(true);
  });

  it('forks independent, reproducible streams', () => {
    const a = new Rng(1).fork();
    const b = new Rng(1).fork();
    expect(a.next()).toBe(b.next());
    expect(new Rng(1).fork().next()).not.toBe(new Rng(1).next());
  });
});

describe('helpers', () => {
  it('clamps and rounds', () => {
    expect(clamp(5, 0, 3)).toBe(3);
    expect(clamp(-1, 0, 3)).toBe(0);
    expect(round(21.456, 1)).toBe(21.5);
  });

  it('turns a per-minute chance into a per-step chance that compounds back to it', () => {
    const perStep = chanceWithin(0.1, 500);
    expect(1 - (1 - perStep) ** 120).toBeCloseTo(0.1, 10);
    expect(chanceWithin(0, 500)).toBe(0);
    expect(chanceWithin(1, 500)).toBe(1);
  });
});
