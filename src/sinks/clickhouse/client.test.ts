import { describe, expect, it } from 'vitest';
import { parseTabSeparated } from './client.js';

describe('parseTabSeparated', () => {
  it('splits rows at newlines and fields at tabs, and turns each escape back into its character', () => {
    // As ClickHouse writes them: a tab, a newline and a backslash inside a field are \t, \n and \\.
    expect(parseTabSeparated('a\\tb\tc\\\\d\\n\t\\0x\\\'\\b\\f\\r\nsecond\t\n')).toEqual([
      ['a\tb', 'c\\d\n', "\u0000x'\b\f\r"],
      ['second', ''],
    ]);
  });

  it('keeps a row whose only field is empty, and reads no rows from no text', () => {
    expect(parseTabSeparated('\n\nx\n')).toEqual([[''], [''], ['x']]);
    expect(parseTabSeparated('')).toEqual([]);
  });

  it('calls step once per row, after the row is read', () => {
    let steps = 0;
    expect(parseTabSeparated('a\n\nb\n', () => steps++)).toEqual([['a'], [''], ['b']]);
    expect(steps).toBe(3);
  });

  it('reads an escape of any other character as that character, and a backslash before a backslash once', () => {
    expect(parseTabSeparated('\\q\\\\\\\\n\n')).toEqual([['q\\\\n']]);
  });
});
