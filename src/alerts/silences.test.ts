import fc from 'fast-check';
import { RE2JS } from 're2js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { GroupState } from './grouping.js';
import { Notifier } from './notifier.js';
import { PROBES, compileMatchers, silences, validateSilence, type Matcher, type Silence } from './silences.js';
import { MemoryHash } from './writeBehindHash.js';

const policy = { groupBy: ['alertname'], groupWaitMs: 30_000, groupIntervalMs: 300_000, repeatIntervalMs: 3_600_000 };
const base = { startsAt: 0, endsAt: 1_000_000, createdBy: 'ana', comment: 'known issue' };
const CATASTROPHIC = '([a-z0-9-]|[a-z0-9-]{2})*!';

function notifierWith(store = new MemoryHash<Silence>(), options: ConstructorParameters<typeof Notifier>[4] = {}): Notifier {
  return new Notifier(policy, store, new MemoryHash<GroupState>(), [], options);
}

/** A 40-character id of the alphabet the catastrophic pattern backtracks over. */
function fortyCharId(i: number): string {
  return `${i.toString(36)}-`.padEnd(40, 'a0-b1');
}

afterEach(() => vi.restoreAllMocks());

describe('silence regexes run on RE2', () => {
  it('refuses what RE2 refuses (backreferences, lookaround) with a reason that does not echo the pattern', () => {
    for (const value of ['(a)\\1', 'a(?=b)', 'a(?!b)', '(?<=a)b', '(?<!a)b', 'x{1001}']) {
      const reason = validateSilence({ ...base, matchers: [{ name: 'campaign', op: '=~', value }] });
      expect(reason, value).toMatch(/matcher 1: the regex is not a valid RE2 regex/);
      expect(reason).not.toContain(value);
    }
  });

  it('anchors as Alertmanager does', () => {
    const c = compileMatchers([{ name: 'campaign', op: '=~', value: 'spr|sum' }]);
    if (typeof c === 'string') throw new Error(c);
    const s = { startsAt: 0, endsAt: 10 };
    expect(silences(s, c, { campaign: 'spr' }, 1)).toBe(true);
    expect(silences(s, c, { campaign: 'spring' }, 1)).toBe(false);
    expect(silences(s, c, { campaign: 'xspr' }, 1)).toBe(false);
  });

  it('puts exact matchers before regexes, so a silence that does not apply runs no regex', () => {
    const c = compileMatchers([
      { name: 'subject_key', op: '=~', value: 'c.*' },
      { name: 'alertname', op: '=', value: 'x' },
    ]);
    expect(typeof c !== 'string' && c.map((m) => m.op)).toEqual(['=', '=~']);
  });

  it(
    'matches a catastrophic pattern against thousands of 40-character ids, compiled once on RE2',
    () => {
      const compile = vi.spyOn(RE2JS, 'compile');
      const notifier = notifierWith();
      const r = notifier.addSilence({ ...base, matchers: [{ name: 'subject_key', op: '=~', value: CATASTROPHIC }] }, 0);
      if (!r.ok) throw new Error(r.error);
      const [m] = notifier.compiledMatchers(r.silence.id) ?? [];
      // The backtracking engine takes tens of seconds per 40-character id on this pattern: it must not be the one.
      expect(m && 're' in m && m.re).toBeInstanceOf(RE2JS);
      const compiledOnAdd = compile.mock.calls.length;
      expect(compiledOnAdd).toBe(1);
      for (let i = 0; i < 2_000; i++) expect(notifier.silencedBy({ subject_key: fortyCharId(i) }, 1)).toEqual([]);
      expect(notifier.silencedBy({ subject_key: `${fortyCharId(0)}!` }, 1)).toEqual([r.silence.id]);
      expect(compile.mock.calls.length, 'compiled again while matching').toBe(compiledOnAdd);
    },
    120_000,
  );

  it('skips a stored silence that does not compile, with one warning across reloads, and never throws', async () => {
    const store = new MemoryHash<Silence>();
    const old = { ...base, id: 'old', createdAt: 0, matchers: [{ name: 'campaign', op: '=~' as const, value: 'spr(?=ing)' }] };
    const broken = { ...base, id: 'broken', createdAt: 0, matchers: 'not a list' as unknown as Matcher[] };
    const good = { ...base, id: 'good', createdAt: 0, matchers: [{ name: 'campaign', op: '=' as const, value: 'spring' }] };
    for (const s of [old, broken, good]) store.set(s.id, s);
    const warnings: unknown[] = [];
    const notifier = notifierWith(store, { warn: (fields) => warnings.push(fields) });
    await notifier.load();
    expect(notifier.silencedBy({ campaign: 'spring' }, 1)).toEqual(['good']);
    // A reload hands over new objects (as a Redis refresh does): compiled again, not warned about again.
    store.set('old', { ...old, matchers: [...old.matchers] });
    await notifier.reloadSilences();
    expect(notifier.silencedBy({ campaign: 'spring' }, 1)).toEqual(['good']);
    expect(warnings).toEqual([
      { silenceId: 'old', reason: expect.stringMatching(/not a valid RE2 regex/) as unknown },
      { silenceId: 'broken', reason: expect.stringMatching(/at least one matcher/) as unknown },
    ]);
  });
});

describe('the "selects everything" guard', () => {
  const refused: Matcher[][] = [
    [{ name: 'campaign', op: '=~', value: '.*' }],
    [{ name: 'campaign', op: '=~', value: 'x|.*' }],
    [{ name: 'campaign', op: '=~', value: '.+' }],
    [{ name: 'campaign', op: '=~', value: '(.|\n)+' }],
    [{ name: 'campaign', op: '=~', value: '[^\n]*.' }],
    [{ name: 'campaign', op: '=~', value: '' }],
    [{ name: 'campaign', op: '=', value: '' }],
    [{ name: 'campaign', op: '!=', value: 'x' }],
    [{ name: 'campaign', op: '!~', value: 'x' }],
    [
      { name: 'campaign', op: '!=', value: '' },
      { name: 'alertname', op: '=~', value: '.+' },
    ],
  ];
  it.each(refused.map((m) => [JSON.stringify(m), m] as const))('refuses %s', (_, matchers) => {
    expect(validateSilence({ ...base, matchers })).toMatch(/must select something/);
  });

  const accepted: Matcher[][] = [
    [{ name: 'subject_key', op: '=', value: 'c-1' }],
    [{ name: 'campaign', op: '=~', value: 'campaign_.*' }],
    [{ name: 'subject_key', op: '=~', value: 'c1|c2' }],
    [
      { name: 'alertname', op: '=~', value: '.*' },
      { name: 'campaign', op: '=', value: 'spring' },
    ],
  ];
  it.each(accepted.map((m) => [JSON.stringify(m), m] as const))('accepts %s', (_, matchers) => {
    expect(validateSilence({ ...base, matchers })).toBeNull();
  });

  // Regexes built from pieces that often add up to "anything": wildcards, negated classes, alternations, repeats.
  const atom = fc.constantFrom('.', 'a', 'x', 'c-1', '[a-z]', '[^\n]', '[^x]', '\\w', '\\S', '\\d', '(.|\n)', '[\\s\\S]', '');
  const quantifier = fc.constantFrom('', '*', '+', '?', '{0,3}', '{2,}');
  const piece = fc.tuple(atom, quantifier).map(([a, q]) => (a === '' ? '' : `(?:${a})${q}`));
  const regex = fc.oneof(
    fc.array(piece, { minLength: 1, maxLength: 3 }).map((p) => p.join('')),
    fc.tuple(fc.array(piece, { minLength: 1, maxLength: 2 }), fc.array(piece, { minLength: 1, maxLength: 2 })).map(([a, b]) => `${a.join('')}|${b.join('')}`),
  );
  const name = fc.constantFrom('alertname', 'campaign', 'subject_key');
  const matcher: fc.Arbitrary<Matcher> = fc.oneof(
    fc.record({ name, op: fc.constantFrom('=' as const, '!=' as const), value: fc.oneof(fc.constantFrom('', 'x', 'spring'), fc.string({ maxLength: 4 })) }),
    fc.record({ name, op: fc.constantFrom('=~' as const, '!~' as const), value: regex }),
  );
  // Label values the test tries, beside generated ones: single characters of each kind and a long mixed one.
  // The guard's own probes among them: an accepted silence narrows on one of them, and that is the guarantee (a regex
  // such as `..?|[^x]+` narrows only on values no small fixed list of ours would think of, like 'xxx').
  const tried = [...PROBES, 'a', 'x', 'Q', '7', ' ', '-', '~', 'é', '\t', 'c-1', 'spring', 'xx', '!@#$%^&*()[]{}<>?/|\\', 'yes'.repeat(50)];

  it('leaves, for every accepted silence, the empty label set and some label set of non-empty values unmatched', () => {
    fc.assert(
      fc.property(fc.array(matcher, { minLength: 1, maxLength: 3 }), fc.array(fc.string({ minLength: 1, maxLength: 12, unit: 'binary' }), { maxLength: 8 }), (matchers, generated) => {
        if (validateSilence({ ...base, matchers }) !== null) return;
        const c = compileMatchers(matchers);
        if (typeof c === 'string') throw new Error(c);
        const at = { startsAt: 0, endsAt: 10 };
        expect(silences(at, c, {}, 1)).toBe(false);
        const labelSets = [...tried, ...generated.filter((v) => !v.includes('\n'))].map((v) => Object.fromEntries(matchers.map((m) => [m.name, v])));
        expect(labelSets.some((labels) => !silences(at, c, labels, 1))).toBe(true);
      }),
      { numRuns: 300, seed: 20261204 },
    );
  }, 120_000);
});

describe('the cap on silences', () => {
  const silence = (value: string, endsAt = 1_000_000) => ({ ...base, endsAt, matchers: [{ name: 'campaign', op: '=' as const, value }] });

  it('refuses a silence over alerts.maxSilences in force, and takes one again once another ended', () => {
    const notifier = notifierWith(new MemoryHash(), { maxSilences: 3 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = notifier.addSilence(silence(`c${i}`), 0);
      if (!r.ok) throw new Error(r.error);
      ids.push(r.silence.id);
    }
    const over = notifier.addSilence(silence('c3'), 0);
    expect(over).toEqual({ ok: false, error: expect.stringMatching(/3 silences are in force, the most alerts.maxSilences allows/) as unknown });
    notifier.expireSilence(ids[0], 10);
    expect(notifier.addSilence(silence('c3'), 11).ok).toBe(true);
  });

  it('keeps no more ended silences than may be in force', () => {
    const store = new MemoryHash<Silence>();
    const notifier = notifierWith(store, { maxSilences: 3 });
    for (let i = 0; i < 20; i++) {
      const r = notifier.addSilence(silence(`c${i}`, i + 1), i);
      expect(r.ok).toBe(true);
    }
    expect([...store.values()].length).toBeLessThanOrEqual(4);
  });
});
