import { describe, expect, it } from 'vitest';
import { configSchema } from './schema.ts';
import { editDistance, knownKeysAt, nearestKey } from './unknown-keys.ts';

describe('unknown key suggestions', () => {
  it('count a swap of two neighbouring letters as one edit', () => {
    expect(editDistance('adimn', 'admin')).toBe(1);
    expect(editDistance('prot', 'port')).toBe(1);
    expect(editDistance('tagg', 'tag')).toBe(1);
    expect(editDistance('Port', 'port')).toBe(0);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('suggest only a close key, the closest one', () => {
    expect(nearestKey('adimn', ['server', 'admin', 'database'])).toBe('admin');
    expect(nearestKey('databse', ['data', 'database'])).toBe('database');
    expect(nearestKey('xyz', ['id', 'url'])).toBeUndefined();
    expect(nearestKey('colour', ['server', 'admin'])).toBeUndefined();
  });

  it('read the known keys from the schema at any depth', () => {
    expect(knownKeysAt(configSchema, [])).toEqual(expect.arrayContaining(['server', 'database', 'admin', 'tenants']));
    expect(knownKeysAt(configSchema, ['tenants', 3, 'sync'])).toEqual(expect.arrayContaining(['tag', 'fieldNames']));
    expect(knownKeysAt(configSchema, ['tenants', 0, 'alerts'])).toContain('headers');
    expect(knownKeysAt(configSchema, ['fanout', 'circuit'])).toContain('failureThreshold');
    expect(knownKeysAt(configSchema, ['server', 'port'])).toEqual([]);
  });
});
