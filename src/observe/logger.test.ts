import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, logFormat, prettyDestination } from './logger.ts';

describe('createLogger', () => {
  it('redacts PHI keys at any of the first three levels and keeps ids', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger({ destination });
    log.info(
      { tenantId: 'acme-pt', patientId: 12, first_name: 'Ada', contact: { givenName: 'Ada', phoneNumbers: ['+12065551234'] }, deep: { x: { email_address: 'a@b.c' } } },
      'synced',
    );
    const text = lines.join('');
    expect(text).toContain('"tenantId":"acme-pt"');
    expect(text).toContain('"patientId":12');
    expect(text).not.toContain('Ada');
    expect(text).not.toContain('+12065551234');
    expect(text).not.toContain('a@b.c');
  });
});

describe('log format', () => {
  it('is JSON unless a person reads stdout or pretty is configured', () => {
    expect(logFormat(undefined, false)).toBe('json');
    expect(logFormat(undefined, true)).toBe('pretty');
    expect(logFormat('json', true)).toBe('json');
    expect(logFormat('pretty', false)).toBe('pretty');
  });

  it('prints readable lines, still redacted', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-log-'));
    const file = join(dir, 'out.log');
    const fd = openSync(file, 'w');
    try {
      const log = createLogger({ destination: prettyDestination({ fd, colorize: false }) });
      log.info({ tenantId: 'acme-pt', contact: { givenName: 'Ada' } }, 'synced');
    } finally {
      closeSync(fd);
    }
    const text = readFileSync(file, 'utf8');
    rmSync(dir, { recursive: true, force: true });
    expect(text).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: synced\n/);
    expect(text).toContain('tenantId: "acme-pt"');
    expect(text).toContain('[redacted]');
    expect(text).not.toContain('Ada');
    expect(text).not.toContain('{"');
  });
});
