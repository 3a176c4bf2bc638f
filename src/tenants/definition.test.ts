import { describe, expect, it } from 'vitest';
import { tenantSchema } from '../config/schema.ts';
import { fullDefinition, mergePatch, nextExpiry, redactedDefinition, rotateSecrets, runtimeTenant, splitTenant } from './definition.ts';

const tenant = tenantSchema.parse({
  id: 'north',
  spry: { baseUrl: 'https://spry.example', clientId: 'c', clientSecret: 'client-secret', organisationId: 7, webhookSecrets: ['spry-old'], chartUrl: 'https://spry.example/p/{patientId}' },
  spruce: { baseUrl: 'https://spruce.example', accessId: 'a', secretKey: 'secret-key', webhookSecrets: ['spruce-1'] },
});

describe('tenant definitions', () => {
  it('splits the secrets out of the settings and joins them back unchanged', () => {
    const { settings, secrets } = splitTenant(tenant);
    expect(JSON.stringify(settings)).not.toMatch(/client-secret|secret-key|spry-old|spruce-1/);
    expect(runtimeTenant(settings, secrets, 0)).toEqual(tenant);
    expect(tenantSchema.parse(fullDefinition(settings, secrets))).toEqual(tenant);
  });

  it('keeps a replaced webhook secret valid for the overlap, then drops it', () => {
    const { settings, secrets } = splitTenant(tenant);
    const rotated = rotateSecrets(secrets, { ...secrets, spry: { ...secrets.spry, webhookSecrets: ['spry-new'] } }, 1_000, 600_000);
    expect(runtimeTenant(settings, rotated, 1_000).spry.webhookSecrets).toEqual(['spry-new', 'spry-old']);
    expect(runtimeTenant(settings, rotated, 1_000).spruce.webhookSecrets).toEqual(['spruce-1']);
    expect(nextExpiry(rotated, 1_000)).toBe(601_000);
    expect(runtimeTenant(settings, rotated, 601_000).spry.webhookSecrets).toEqual(['spry-new']);
    // Rotating back to the old secret makes it current again, not retired.
    const back = rotateSecrets(rotated, secrets, 2_000, 600_000);
    expect(back.retired).toEqual([{ system: 'spry', secret: 'spry-new', until: 602_000 }]);
    // Without an overlap the old secret stops at once.
    expect(rotateSecrets(secrets, { ...secrets, spry: { ...secrets.spry, webhookSecrets: ['x'] } }, 1, 0).retired).toEqual([]);
  });

  it('shows secrets as set, never as values', () => {
    const { settings, secrets } = splitTenant(tenant);
    const shown = redactedDefinition(settings, secrets, 0) as { spry: Record<string, unknown>; spruce: Record<string, unknown> };
    expect(JSON.stringify(shown)).not.toMatch(/client-secret|secret-key|spry-old|spruce-1/);
    expect(shown.spry).toMatchObject({ clientSecret: '***', clientId: 'c', webhookSecrets: { set: true, count: 1, previousValidUntil: null } });
    expect(shown.spruce).toMatchObject({ secretKey: '***' });
  });

  it("keeps the alert receiver's headers with the secrets, shown by name only", () => {
    const alerting = tenantSchema.parse({ ...tenant, alerts: { url: 'https://hooks.example/x', headers: { authorization: 'Bearer hook-token' } } });
    const { settings, secrets } = splitTenant(alerting);
    expect(JSON.stringify(settings)).not.toContain('hook-token');
    expect(runtimeTenant(settings, secrets, 0).alerts!.headers).toEqual({ authorization: 'Bearer hook-token' });
    const shown = redactedDefinition(settings, secrets, 0) as { alerts: { headers: Record<string, string> } };
    expect(shown.alerts.headers).toEqual({ authorization: '***' });
  });

  it('merges an edit: objects key by key, lists replaced', () => {
    expect(mergePatch({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] } })).toEqual({ a: { b: 1, c: [3] }, d: 1 });
    expect(mergePatch({ a: 1 }, { b: { c: 2 } })).toEqual({ a: 1, b: { c: 2 } });
  });
});
