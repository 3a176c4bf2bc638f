import { describe, expect, it } from 'vitest';
import { normalizePhone } from './phone.ts';

describe('normalizePhone', () => {
  it.each(['2065551234', '+12065551234', '(206) 555-1234', '206-555-1234', '1 206 555 1234', '206.555.1234'])(
    'reads the documented input %s as E.164 with a display value',
    (input) => {
      expect(normalizePhone(input)).toEqual({ value: '+12065551234', displayValue: '(206) 555-1234' });
    },
  );

  it.each(['', 'abc', '555-1234', '(106) 555-1234', '206-155-1234', '+1 206 555 12345', '20655512345', '+0123456789'])(
    'rejects %j',
    (input) => {
      expect(normalizePhone(input)).toBeNull();
    },
  );

  it('keeps international numbers given in + form', () => {
    expect(normalizePhone('+44 20 7946 0958')).toEqual({ value: '+442079460958', displayValue: '+442079460958' });
  });
});
