// What a client may send: ping, ack with an alert id and an optional name, silence and expire_silence; anything else is a
// reason, not a throw.
import { describe, expect, it } from 'vitest';
import { parseClientMessage, parseSilenceInput } from './protocol.js';

describe('parseClientMessage', () => {
  it('accepts ping and ack', () => {
    expect(parseClientMessage('{"type":"ping"}')).toEqual({ ok: true, message: { type: 'ping' } });
    expect(parseClientMessage('{"type":"ack","alertId":"a1"}')).toEqual({ ok: true, message: { type: 'ack', alertId: 'a1' } });
    expect(parseClientMessage('{"type":"ack","alertId":"a1","by":" sam "}')).toEqual({ ok: true, message: { type: 'ack', alertId: 'a1', by: 'sam' } });
  });

  it('rejects with a reason', () => {
    for (const text of ['nope', '42', 'null', '{"type":"ack"}', '{"type":"ack","alertId":""}', '{"type":"ack","alertId":"a","by":7}', '{"type":"shutdown"}']) {
      const parsed = parseClientMessage(text);
      expect(parsed.ok, text).toBe(false);
      if (!parsed.ok) expect(parsed.reason.length).toBeGreaterThan(0);
    }
  });
});

describe('silences', () => {
  const NOW = 1_700_000_000_000;
  const body = { matchers: [{ name: 'alertname', op: '=', value: 'customer_contact_fatigue' }, { name: 'campaign', value: 'spring-sale' }], endsAt: NOW + 3_600_000, comment: ' known: the send is paused ' };

  it('fills startsAt with now, createdBy with by or the default, op with =, and trims the comment', () => {
    expect(parseSilenceInput(body, NOW)).toEqual({
      ok: true,
      input: {
        matchers: [
          { name: 'alertname', op: '=', value: 'customer_contact_fatigue' },
          { name: 'campaign', op: '=', value: 'spring-sale' },
        ],
        startsAt: NOW,
        endsAt: NOW + 3_600_000,
        comment: 'known: the send is paused',
        createdBy: 'responder',
      },
    });
    expect(parseSilenceInput({ ...body, by: 'dana' }, NOW)).toMatchObject({ ok: true, input: { createdBy: 'dana' } });
    expect(parseSilenceInput({ ...body, by: 'dana', createdBy: 'sam', startsAt: NOW + 5 }, NOW)).toMatchObject({ ok: true, input: { createdBy: 'sam', startsAt: NOW + 5 } });
  });

  it('reads silence and expire_silence messages', () => {
    const parsed = parseClientMessage(JSON.stringify({ type: 'silence', ...body, by: 'kim' }), NOW);
    expect(parsed).toMatchObject({ ok: true, message: { type: 'silence', silence: { createdBy: 'kim', startsAt: NOW, matchers: [{ name: 'alertname' }, { name: 'campaign' }] } } });
    expect(parseClientMessage('{"type":"expire_silence","id":"s-1"}')).toEqual({ ok: true, message: { type: 'expire_silence', id: 's-1' } });
  });

  it('names what is wrong with a malformed silence', () => {
    const cases: [unknown, RegExp][] = [
      [null, /JSON object/],
      [{ ...body, matchers: [] }, /matchers/],
      [{ ...body, matchers: Array.from({ length: 17 }, () => body.matchers[0]) }, /matchers/],
      [{ ...body, matchers: [{ name: 'bad name', value: 'x' }] }, /label name/],
      [{ ...body, matchers: [{ name: 'alertname', op: '~=', value: 'x' }] }, /op must be/],
      [{ ...body, matchers: [{ name: 'alertname', value: 7 }] }, /value must be a string/],
      [{ ...body, endsAt: 'tomorrow' }, /endsAt/],
      [{ ...body, startsAt: 'now' }, /startsAt/],
      [{ ...body, comment: '   ' }, /comment is required/],
      [{ ...body, createdBy: 42 }, /createdBy/],
    ];
    for (const [value, reason] of cases) {
      const parsed = parseSilenceInput(value, NOW);
      expect(parsed.ok, JSON.stringify(value)).toBe(false);
      if (!parsed.ok) expect(parsed.reason).toMatch(reason);
    }
    expect(parseClientMessage('{"type":"expire_silence"}')).toMatchObject({ ok: false });
  });
});
