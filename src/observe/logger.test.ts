import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';

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
