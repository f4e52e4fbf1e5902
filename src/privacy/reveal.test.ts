import { describe, expect, it } from 'vitest';
import type { SilenceInput, WallFrame } from '../contract/frames.js';

type SilencesFrame = Extract<WallFrame, { type: 'silences' }>;
import { Pseudonymizer } from './pseudonym.js';
import { pseudonymizeSilence, revealFrame } from './reveal.js';

const KEY = 'a-key-of-at-least-thirty-two-characters-0123';
const base = { startsAt: 0, endsAt: 100, createdBy: 'ana', comment: 'known issue' };
const silence = (matchers: SilenceInput['matchers']): SilenceInput => ({ ...base, matchers });

function remembering(...seen: string[]): Pseudonymizer {
  const p = new Pseudonymizer({ key: KEY, remember: true, revealCacheSize: 100 });
  for (const id of seen) p.pseudonym(id);
  return p;
}

describe('pseudonymizeSilence', () => {
  it('stores a revealed original id on the customer key as its pseudonym, for = and !=', () => {
    const p = remembering('alice@example.com', 'bob');
    const r = pseudonymizeSilence(
      silence([
        { name: 'alertname', op: '=', value: 'customer_contact_fatigue' },
        { name: 'subject_key', op: '=', value: 'alice@example.com' },
        { name: 'subject_key', op: '!=', value: 'bob' },
      ]),
      p,
    );
    expect(r).toEqual({
      ok: true,
      input: silence([
        { name: 'alertname', op: '=', value: 'customer_contact_fatigue' },
        { name: 'subject_key', op: '=', value: p.hash('alice@example.com') },
        { name: 'subject_key', op: '!=', value: p.hash('bob') },
      ]),
    });
  });

  it('keeps a pseudonym as it is, remembered or forgotten, and hashes an original not remembered', () => {
    const p = remembering('alice');
    const forgotten = new Pseudonymizer({ key: 'another-key-of-thirty-two-characters-xyz', remember: false, revealCacheSize: 1 }).hash('gone');
    const value = (v: string) => {
      const r = pseudonymizeSilence(silence([{ name: 'subject_key', op: '=', value: v }]), p);
      return r.ok ? r.input.matchers[0].value : r.error;
    };
    expect(value(p.hash('alice'))).toBe(p.hash('alice'));
    expect(value(forgotten)).toBe(forgotten);
    expect(value('carol')).toBe(p.hash('carol'));
  });

  it('hashes a remembered original even when it is shaped like a pseudonym', () => {
    const hexId = '0123456789abcdef0123456789abcdef';
    const p = remembering(hexId);
    const r = pseudonymizeSilence(silence([{ name: 'subject_key', op: '=', value: hexId }]), p);
    expect(r.ok && r.input.matchers[0].value).toBe(p.hash(hexId));
  });

  it('refuses a regex on the customer key, with a reason that does not echo it', () => {
    for (const op of ['=~', '!~'] as const) {
      const r = pseudonymizeSilence(silence([{ name: 'subject_key', op, value: 'alice.*' }]), remembering('alice'));
      expect(r).toEqual({ ok: false, error: expect.stringMatching(/match customers by exact id/) as unknown });
      expect(JSON.stringify(r)).not.toContain('alice');
    }
  });

  it('leaves silences on other labels, and on subjects pinned to another kind, as they are', () => {
    const p = remembering('spring');
    const campaign = silence([{ name: 'campaign', op: '=~', value: 'spring|summer' }]);
    expect(pseudonymizeSilence(campaign, p)).toEqual({ ok: true, input: campaign });
    const pinned = silence([
      { name: 'subject_kind', op: '=', value: 'campaign' },
      { name: 'subject_key', op: '=', value: 'spring' },
    ]);
    expect(pseudonymizeSilence(pinned, p)).toEqual({ ok: true, input: pinned });
  });

  it('is shown revealed to responders, exact matchers included', () => {
    const p = remembering('alice');
    const r = pseudonymizeSilence(silence([{ name: 'subject_key', op: '!=', value: 'alice' }]), p);
    if (!r.ok) throw new Error(r.error);
    const frame: SilencesFrame = { type: 'silences', silences: [{ ...r.input, id: 's', createdAt: 0 }] };
    const shown = revealFrame(frame, (x) => p.original(x)) as SilencesFrame;
    expect(shown.silences[0].matchers[0].value).toBe('alice');
  });
});
