// Operating subscriptions: the admin API routes over real HTTP (bearer token, SSRF refusals,
// the secret shown once, pause/resume, rotation, versions, test events, deliveries and their
// attempts) and the `subscriptions` CLI against the running service's database.
/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers; the assertions check their shape */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { registerSubscriptionsCommand } from '../../src/cli/subscriptions.ts';
import { SANDBOX_TENANT_ID } from '../../src/sandbox/environment.ts';
import { runCommands } from './cli-support.ts';
import { startReceiver, verifyAll, type Receiver } from './fanout-support.ts';
import { eventually, startWorld, type World } from './support.ts';

const TOKEN = 'fanout-operator-token-0123456789';
let world: World;
let hook: Receiver;
let configFile: string;

beforeAll(async () => {
  world = await startWorld({
    patients: 3,
    service: {
      config: { fanout: { pollIntervalMs: 100, retrySchedule: ['100ms'] }, admin: { token: TOKEN } },
      tenant: { fanout: { allowLoopback: true } },
    },
  });
  hook = await startReceiver();
  configFile = join(tmpdir(), `fanout-operator-${process.pid}.yaml`);
  writeFileSync(configFile, stringify(world.config));
});

afterAll(async () => {
  await world?.close();
  await hook?.close();
});

async function api(method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<{ status: number; body: any }> {
  const response = await fetch(`${world.service.url}/admin/api${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

const base = `/tenants/${SANDBOX_TENANT_ID}/subscriptions`;

describe('subscriptions in the admin API', () => {
  it('needs the bearer token and refuses URLs that could reach internal services', async () => {
    expect((await api('GET', base, undefined, null)).status).toBe(401);
    expect((await api('GET', base, undefined, 'wrong-token-wrong-token')).status).toBe(401);
    for (const url of ['http://10.0.0.8/hook', 'https://169.254.169.254/latest', 'https://[fe80::1]/x', 'https://[fd00::5]/x', 'ftp://example.com/']) {
      const refused = await api('POST', base, { url, eventTypes: ['*'] });
      expect(refused.status, url).toBe(400);
      expect(refused.body.error).toBe('bad_url');
    }
    expect((await api('POST', base, { url: hook.url, eventTypes: ['spry.pat*'] })).status).toBe(400);
    expect((await api('POST', base, { url: hook.url, eventTypes: ['*'], surprise: 1 })).body.message).toContain('unknown parameter surprise');
    expect((await api('GET', '/tenants/nope/subscriptions')).status).toBe(404);
  });

  it('adds (secret shown once), tests, lists deliveries and attempts, pauses, rotates, upgrades, removes', async () => {
    const created = await api('POST', base, { url: hook.url, eventTypes: ['sync.*'], version: '2026-01-01', description: 'billing' });
    expect(created.status).toBe(201);
    const { subscription, secret } = created.body;
    expect(secret).toMatch(/^whsec_/);
    expect(subscription).toMatchObject({ status: 'active', version: '2026-01-01', latestVersion: '2026-07-01', allowPhi: false, ordered: true, secrets: { signing: 1 } });
    const listed = await api('GET', base);
    expect(listed.body.subscriptions.map((s: any) => s.id)).toContain(subscription.id);
    expect(JSON.stringify(listed.body)).not.toContain(secret);

    const test = await api('POST', `${base}/${subscription.id}/test`);
    expect(test.status).toBe(202);
    const got = await eventually(() => hook.received.find((r) => r.id === test.body.messageId), 10_000, 'test event');
    // The pinned old version: { type, timestamp, data }, no id in the body.
    expect(Object.keys(got.json).sort()).toEqual(['data', 'timestamp', 'type']);
    expect(verifyAll({ ...hook, received: [got] }, [secret])).toBe(1);

    const deliveries = await eventually(async () => {
      const page = await api('GET', `${base}/${subscription.id}/deliveries?status=delivered`);
      return page.body.deliveries.length === 1 ? page.body.deliveries : undefined;
    }, 10_000, 'delivery listed');
    expect(deliveries[0]).toMatchObject({ messageId: test.body.messageId, type: 'webhook.test', attempts: 1, lastStatus: 200 });
    const detail = await api('GET', `${base}/${subscription.id}/deliveries/${deliveries[0].id}`);
    expect(detail.body.attempts).toEqual([expect.objectContaining({ outcome: 'delivered', statusCode: 200, trigger: 'first' })]);
    expect((await api('POST', `${base}/${subscription.id}/deliveries/${deliveries[0].id}/replay`)).body).toEqual({ replayed: 1 });
    await eventually(() => hook.received.filter((r) => r.id === test.body.messageId).length === 2, 10_000, 'replayed');

    expect((await api('PATCH', `${base}/${subscription.id}`, { eventTypes: ['sync.contact.*'], ratePerSecond: 5 })).body).toMatchObject({ eventTypes: ['sync.contact.*'], ratePerSecond: 5 });
    expect((await api('POST', `${base}/${subscription.id}/pause`)).body.status).toBe('paused');
    expect((await api('POST', `${base}/${subscription.id}/resume`)).body.status).toBe('active');
    const rotated = await api('POST', `${base}/${subscription.id}/rotate`, { overlap: '1h' });
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(secret);
    expect((await api('GET', `${base}/${subscription.id}`)).body.secrets.signing).toBe(2);
    expect((await api('POST', `${base}/${subscription.id}/upgrade`, {})).body.version).toBe('2026-07-01');
    expect((await api('POST', `${base}/${subscription.id}/upgrade`, { version: '2026-01-01' })).status).toBe(409);
    expect((await api('POST', `${base}/${subscription.id}/replay`, { since: '1h' })).status).toBe(400);
    expect((await api('POST', `${base}/${subscription.id}/replay`, { since: String(Date.now() - 60_000) })).body).toEqual({ replayed: 0 });

    expect((await api('DELETE', `${base}/${subscription.id}`)).status).toBe(204);
    expect((await api('GET', `${base}/${subscription.id}`)).status).toBe(404);
    expect((await api('GET', '/fanout/event-types')).body.eventTypes).toContain('sync.contact.created');
  });
});

describe('subscriptions CLI', () => {
  const cli = (...args: string[]) => runCommands([registerSubscriptionsCommand], ['subscriptions', ...args, '--config', configFile]);

  it('adds, lists, tests (the running service delivers), pauses, resumes, rotates, replays and removes', async () => {
    const added = JSON.parse((await cli('add', SANDBOX_TENANT_ID, hook.url, '--types', 'spry.*,sync.*', '--retry', '1s,10s', '--json')).out);
    const id: string = added.subscription.id;
    expect(added.subscription.retrySchedule).toEqual(['1s', '10s']);
    expect((await cli('add', SANDBOX_TENANT_ID, 'http://192.168.1.20/x', '--types', '*')).err).toContain('private address');
    expect((await cli('list', SANDBOX_TENANT_ID)).out).toMatch(new RegExp(`${id}\\s+active\\s+spry\\.\\*,sync\\.\\*\\s+0\\s+0\\s+${hook.url}`));

    const queued = (await cli('test', SANDBOX_TENANT_ID, id)).out;
    const messageId = /test event (msg_\S+) queued/.exec(queued)![1]!;
    await eventually(() => hook.received.some((r) => r.id === messageId), 10_000, 'CLI test event delivered by the service');
    expect(verifyAll({ ...hook, received: hook.received.filter((r) => r.id === messageId) }, [added.secret])).toBe(1);

    expect((await cli('pause', SANDBOX_TENANT_ID, id)).out).toMatch(/paused/);
    expect((await cli('resume', SANDBOX_TENANT_ID, id)).out).toMatch(/active/);
    expect((await cli('rotate', SANDBOX_TENANT_ID, id, '--overlap', '2h')).out).toMatch(/new signing secret \(shown once, keep it safe\): whsec_/);
    const deliveries = (await cli('deliveries', SANDBOX_TENANT_ID, id)).out;
    expect(deliveries).toMatch(/webhook\.test\s+delivered\s+1\s+200/);
    const deliveryId = /^(\d+)\s/m.exec(deliveries.split('\n').slice(1).join('\n'))![1]!;
    expect((await cli('attempts', SANDBOX_TENANT_ID, id, deliveryId)).out).toMatch(/first\s+delivered\s+200/);
    expect((await cli('replay', SANDBOX_TENANT_ID, id, '--delivery', deliveryId)).out).toBe(`1 delivery queued again for ${id}`);
    await eventually(() => hook.received.filter((r) => r.id === messageId).length === 2, 10_000, 'replayed by the service');
    expect((await cli('replay', SANDBOX_TENANT_ID, id, '--since', '1h')).out).toBe(`0 deliveries queued again for ${id}`);
    expect((await cli('replay', SANDBOX_TENANT_ID, id)).err).toContain('give --delivery');
    expect((await cli('show', SANDBOX_TENANT_ID, id)).out).toMatch(/secrets\s+2 signing; previous until/);
    expect((await cli('remove', SANDBOX_TENANT_ID, id)).out).toBe(`${id}: removed`);
    expect((await cli('show', SANDBOX_TENANT_ID, id)).code).toBe(1);
  });
});
