import { describe, expect, it } from 'vitest';
import type { SpruceApi, SpruceWebhookEndpoint } from '../spruce/types.ts';
import { SPRY_EVENT_TYPES, type SpryApi, type SprySubscription } from '../spry/types.ts';
import { ensureWebhookRegistrations, webhookUrls } from './webhook-registration.ts';

function fakes(existing: { subscriptions?: SprySubscription[]; endpoints?: SpruceWebhookEndpoint[] } = {}) {
  const subscriptions = [...(existing.subscriptions ?? [])];
  const endpoints = [...(existing.endpoints ?? [])];
  const spry = {
    listSubscriptions: async () => subscriptions,
    createSubscription: async (input: Omit<SprySubscription, 'id' | 'is_active' | 'created_date'>) => {
      const created = { ...input, id: `sub_${subscriptions.length + 1}`, is_active: true, created_date: '2026-01-01T00:00:00Z' };
      subscriptions.push(created);
      return { ...created, signature_key: 'spry-key' };
    },
  } as unknown as SpryApi;
  const spruce = {
    listWebhookEndpoints: async () => endpoints.map((e) => ({ ...e, signingSecrets: [{ id: 'wss_1', value: '' }] })),
    createWebhookEndpoint: async (input: { name: string; url: string }) => {
      const created = { ...input, id: `wde_${endpoints.length + 1}`, object: 'webhookEndpoint', status: 'active', createdAt: '2026-01-01T00:00:00Z', signingSecrets: [{ id: 'wss_1', value: 'spruce-secret' }] };
      endpoints.push(created as unknown as SpruceWebhookEndpoint);
      return created as unknown as SpruceWebhookEndpoint;
    },
  } as unknown as SpruceApi;
  return { spry, spruce, subscriptions, endpoints };
}

describe('ensureWebhookRegistrations', () => {
  it('creates both when missing and hands back the secrets shown once; a second call finds them and creates nothing', async () => {
    const world = fakes();
    const first = await ensureWebhookRegistrations({ ...world, publicUrl: 'https://sync.example.test/', tenantId: 'acme' });
    expect(first.urls).toEqual(webhookUrls('https://sync.example.test', 'acme'));
    expect(first.urls.spruce).toBe('https://sync.example.test/webhooks/spruce/acme');
    expect([first.spry.created, first.spry.signatureKey, first.spruce.created, first.spruce.signingSecret]).toEqual([true, 'spry-key', true, 'spruce-secret']);
    expect(first.spry.subscription.event_types).toEqual([...SPRY_EVENT_TYPES]);

    const second = await ensureWebhookRegistrations({ ...world, publicUrl: 'https://sync.example.test', tenantId: 'acme' });
    expect([second.spry.created, second.spry.signatureKey, second.spruce.created, second.spruce.signingSecret]).toEqual([false, undefined, false, undefined]);
    expect([world.subscriptions.length, world.endpoints.length]).toEqual([1, 1]);
  });

  it('keeps an existing subscription (an active one first) and names the event types it lacks', async () => {
    const url = 'https://sync.example.test/webhooks/spry/acme';
    const base = { name: 'x', notification_url: url, api_version: '2026-06-11', created_date: '' };
    const world = fakes({
      subscriptions: [
        { ...base, id: 'sub_old', is_active: false, event_types: [...SPRY_EVENT_TYPES] },
        { ...base, id: 'sub_live', is_active: true, event_types: ['patient.created', 'patient.updated'] },
      ],
    });
    const result = await ensureWebhookRegistrations({ ...world, publicUrl: 'https://sync.example.test', tenantId: 'acme' });
    expect(result.spry.subscription.id).toBe('sub_live');
    expect(result.spry.missingEventTypes).toEqual(SPRY_EVENT_TYPES.filter((t) => !t.startsWith('patient.')));
    expect(world.subscriptions).toHaveLength(2);
  });
});
