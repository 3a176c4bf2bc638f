import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseEncryptionKey } from '../store/cipher.ts';
import { databaseEncryption, type Notices } from './database.ts';
import { configSchema } from './schema.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-keys-'));
  dirs.push(dir);
  return dir;
}

function database(section: Record<string, unknown>) {
  return configSchema.shape.database.parse(section);
}

function recorder() {
  const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const notices: Notices = {
    info: (fields, message) => lines.push({ level: 'info', fields, message }),
    warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
  };
  return { lines, notices };
}

describe('database encryption from the config', () => {
  it('on SQLite without a key, generates a key file beside the database (0600) once, says where, and reads it later', () => {
    const dir = tempDir();
    const file = join(dir, 'sync.db');
    const first = recorder();
    const keys = databaseEncryption(database({ url: `sqlite:${file}` }), first.notices);
    const keyFile = `${file}.key`;
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(parseEncryptionKey(keys.encryptionKey!)).toHaveLength(32);
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(keys.encryptionKey);
    expect(first.lines).toEqual([{ level: 'info', fields: { keyFile }, message: expect.stringContaining(keyFile) }]);
    expect(first.lines[0]!.message).toMatch(/back it up/);
    // The key itself is never said.
    expect(JSON.stringify(first.lines)).not.toContain(keys.encryptionKey);

    const later = recorder();
    expect(databaseEncryption(database({ url: `sqlite:${file}` }), later.notices).encryptionKey).toBe(keys.encryptionKey);
    expect(later.lines).toEqual([]);
  });

  it('tells to rekey when a database with rows gets its first key', () => {
    const dir = tempDir();
    const file = join(dir, 'old.db');
    writeFileSync(file, 'rows from before');
    const { lines, notices } = recorder();
    databaseEncryption(database({ url: `sqlite:${file}` }), notices);
    expect(lines.map((l) => l.level)).toEqual(['info', 'warn']);
    expect(lines[1]!.message).toContain('spruce-sync rekey');
  });

  it('uses a configured key (and older keys for reading) as given, with no key file', () => {
    const dir = tempDir();
    const key = randomBytes(32).toString('base64');
    const old = randomBytes(32).toString('hex');
    const keys = databaseEncryption(database({ url: `sqlite:${join(dir, 'x.db')}`, encryptionKey: key, decryptionKeys: [old] }), recorder().notices);
    expect(keys).toEqual({ encryptionKey: key, decryptionKeys: [old] });
    expect(() => statSync(join(dir, 'x.db.key'))).toThrow();
  });

  it('on PostgreSQL refuses to start without a key unless encryption: off is written, which warns', () => {
    const url = `postgres://127.0.0.1:5432/test-${randomBytes(4).toString('hex')}`;
    expect(() => databaseEncryption(database({ url }), recorder().notices)).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/database\.encryptionKey is required on PostgreSQL.*encryption: off/) }),
    );
    const { lines, notices } = recorder();
    expect(databaseEncryption(database({ url, encryption: 'off' }), notices)).toEqual({});
    expect(lines).toEqual([{ level: 'warn', fields: { code: 'ENCRYPTION_OFF' }, message: expect.stringContaining('plaintext') }]);
    const key = randomBytes(32).toString('base64');
    expect(databaseEncryption(database({ url, encryptionKey: key }), notices).encryptionKey).toBe(key);
    expect(() => databaseEncryption(database({ url, encryption: 'off', encryptionKey: key }), notices)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('needs no key for an in-memory database (nothing is at rest), and none when encryption is off on SQLite', () => {
    expect(databaseEncryption(database({ url: 'sqlite::memory:' }), recorder().notices)).toEqual({});
    const dir = tempDir();
    expect(databaseEncryption(database({ url: `sqlite:${join(dir, 'plain.db')}`, encryption: 'off' }), recorder().notices)).toEqual({});
    expect(() => statSync(join(dir, 'plain.db.key'))).toThrow();
  });

  it('refuses a key file that does not hold a key, without echoing it', () => {
    const dir = tempDir();
    const file = join(dir, 'sync.db');
    writeFileSync(`${file}.key`, 'not-a-key\n', { mode: 0o644 });
    let refused: unknown;
    try {
      databaseEncryption(database({ url: `sqlite:${file}` }), recorder().notices);
    } catch (error) {
      refused = error;
    }
    expect(refused).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining(`${file}.key`) });
    expect(String((refused as Error).message)).not.toContain('not-a-key');
    // Tightened to the owner on the way.
    expect(statSync(`${file}.key`).mode & 0o777).toBe(0o600);
  });
});
