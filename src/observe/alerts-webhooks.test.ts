import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { watchSignatureFailures } from './alerts-webhooks.ts';

describe('watchSignatureFailures', () => {
  it('reports 401 answers of the webhook routes, per tenant and source, and nothing else', async () => {
    const app = Fastify();
    const seen: string[] = [];
    watchSignatureFailures(app, (tenantId, source) => seen.push(`${source}:${tenantId}`));
    app.post('/webhooks/spry/:tenantId', async (_request, reply) => reply.code(401).send({}));
    app.post('/webhooks/spruce/:tenantId', async (_request, reply) => reply.code(200).send({}));
    app.get('/admin/api/tenants', async (_request, reply) => reply.code(401).send({}));
    await app.inject({ method: 'POST', url: '/webhooks/spry/acme-pt' });
    await app.inject({ method: 'POST', url: '/webhooks/spruce/acme-pt' });
    await app.inject({ method: 'GET', url: '/admin/api/tenants' });
    expect(seen).toEqual(['spry:acme-pt']);
    await app.close();
  });
});
