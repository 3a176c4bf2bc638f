import { describe, expect, it } from 'vitest';
import { readSpruce, readSpry } from './vendor-answer.ts';
import type { Exchange } from './wire-tap.ts';

function answer(status: number, body: unknown, contentType = 'application/json'): Exchange {
  return {
    method: 'GET',
    path: '/x',
    status,
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    sentAt: 0,
    answeredAt: 0,
  };
}

describe('readSpry', () => {
  it("unwraps Spry's success envelope", () => {
    expect(readSpry(answer(200, { code: 2000, data: { a: 1 }, message: 'Success' }))).toEqual({ ok: true, data: { a: 1 }, envelope: true });
  });

  it('reads a 404 without the envelope as a path Spry does not have, and one with it as an answer', () => {
    expect(readSpry(answer(404, '<html>Not Found</html>', 'text/html'))).toMatchObject({ ok: false, problem: 'missing-path', detail: 'HTTP 404 (text/html, not JSON)' });
    expect(readSpry(answer(404, { message: 'no route' }))).toMatchObject({ ok: false, problem: 'missing-path' });
    expect(readSpry(answer(404, { code: 4004, message: 'Patient not found' }))).toMatchObject({ ok: false, problem: 'code', detail: 'code 4004 (HTTP 404)' });
  });

  it('reads a failed code on HTTP 200 as a failure', () => {
    expect(readSpry(answer(200, { code: 4001, message: 'bad' }))).toMatchObject({ ok: false, problem: 'code', detail: 'code 4001 (HTTP 200)' });
  });

  it('names the keys, never the values, of an answer without the envelope', () => {
    const reading = readSpry(answer(200, { status: 'SUCCESS', result: { name: 'Ada' } }));
    expect(reading).toEqual({ ok: false, problem: 'no-envelope', detail: "HTTP 200 without Spry's {code, data} envelope (keys status, result)" });
  });

  it('accepts a bare answer only where the envelope is optional', () => {
    expect(readSpry(answer(200, [{ id: 's' }]), { envelopeOptional: true })).toEqual({ ok: true, data: [{ id: 's' }], envelope: false });
    expect(readSpry(answer(200, [{ id: 's' }]))).toMatchObject({ ok: false, problem: 'no-envelope', detail: expect.stringContaining('a bare list') });
  });

  it('tells refusals and bodies that are not JSON apart', () => {
    expect(readSpry(answer(401, { code: 4010 }))).toMatchObject({ ok: false, problem: 'refused' });
    expect(readSpry(answer(200, 'hello', 'text/plain'))).toMatchObject({ ok: false, problem: 'not-json', detail: 'HTTP 200 with a body that is not JSON (text/plain)' });
    expect(readSpry(undefined)).toMatchObject({ ok: false, problem: 'no-answer' });
  });
});

describe('readSpruce', () => {
  it("reads plain JSON on 2xx and Spruce's error shape otherwise", () => {
    expect(readSpruce(answer(200, { organization: { id: 'entity_1' } }))).toMatchObject({ ok: true });
    expect(readSpruce(answer(403, { statusCode: 403, type: 'FORBIDDEN', message: 'x' }))).toMatchObject({ ok: false, problem: 'refused', detail: 'HTTP 403 FORBIDDEN' });
    expect(readSpruce(answer(404, { statusCode: 404, type: 'NOT_FOUND', message: 'x' }))).toMatchObject({ ok: false, problem: 'status', detail: 'HTTP 404 NOT_FOUND' });
    expect(readSpruce(answer(404, 'nope', 'text/plain'))).toMatchObject({ ok: false, problem: 'missing-path' });
  });
});
