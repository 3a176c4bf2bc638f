import { describe, expect, it } from 'vitest';
import { listShapeProblems, nullable, shapeProblems, type Shape } from './shape.ts';

const shape: Shape = {
  id: 'integer',
  name: 'string',
  born: 'date',
  updated: 'time',
  at: 'epoch-seconds-text',
  status: { oneOf: ['ACTIVE', 'ARCHIVED'] },
  phone: nullable('string'),
  extra: { rule: 'object', optional: true },
};

const good = { id: 7, name: 'Ada', born: '1990-02-03', updated: '2026-01-01T10:00:00Z', at: '1776246130', status: 'ACTIVE', phone: null };

describe('shapeProblems', () => {
  it('accepts a record that fits, nulls and absent optional fields included', () => {
    expect(shapeProblems(good, shape)).toEqual([]);
  });

  it('names each field that is missing or of the wrong kind', () => {
    const { name: _name, ...withoutName } = good;
    expect(shapeProblems({ ...withoutName, id: '7', born: '03/02/1990', at: 1776246130, phone: 5 }, shape)).toEqual([
      'id: expected a whole number, got a string',
      'name: missing',
      'born: expected a YYYY-MM-DD date, got a string',
      'at: expected epoch seconds as text, got a number',
      'phone: expected text or null, got a number',
    ]);
  });

  it('never echoes a value, not even an unexpected enum value', () => {
    const problems = shapeProblems({ ...good, status: 'Ada Lovelace', born: 'Ada Lovelace' }, shape);
    expect(problems).toEqual(['born: expected a YYYY-MM-DD date, got a string', 'status: expected one of ACTIVE|ARCHIVED, got another value']);
    expect(problems.join(' ')).not.toContain('Ada');
  });

  it('refuses what is not an object at all', () => {
    expect(shapeProblems([good], shape)).toEqual(['expected an object, got a list']);
    expect(shapeProblems(null, shape)).toEqual(['expected an object, got null']);
  });

  it('prefixes list items with their position and stops after a few lines', () => {
    const items = [good, { ...good, id: 'x' }, ...Array.from({ length: 8 }, () => ({}))];
    const problems = listShapeProblems(items, shape, 3);
    expect(problems.slice(0, 3)).toEqual(['[1].id: expected a whole number, got a string', '[2].id: missing', '[2].name: missing']);
    expect(problems[3]).toMatch(/^… \d+ more$/);
  });
});
