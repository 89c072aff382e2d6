import { describe, expect, it } from 'vitest';
import { parseDeadlineHeader } from './deadlineHeader.js';

describe('parseDeadlineHeader', () => {
  it('reads whole and fractional milliseconds', () => {
    expect(parseDeadlineHeader('1500')).toBe(1500);
    expect(parseDeadlineHeader(' 250.5 ')).toBe(250.5);
    expect(parseDeadlineHeader('0')).toBe(0);
  });

  it('treats an absent header as absent', () => {
    expect(parseDeadlineHeader(undefined)).toBeUndefined();
  });

  it.each([['-5'], ['1e3'], ['10s'], [''], ['abc'], ['86400001'], ['9999999999']])(
    'rejects %j',
    (value) => {
      expect(parseDeadlineHeader(value)).toBe('invalid');
    },
  );

  it('rejects a repeated header', () => {
    expect(parseDeadlineHeader(['100', '200'])).toBe('invalid');
  });
});
