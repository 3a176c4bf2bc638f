// The deployment files ship a config (compose) and an env template; both must load as they
// are, so a container started from them fails on nothing but the operator's own values.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load-config.ts';

async function envTemplate(): Promise<Record<string, string>> {
  const text = await readFile('deploy/compose.env.example', 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

describe('deployment files', () => {
  it('the compose config loads with every variable of the env template filled in', async () => {
    const template = await envTemplate();
    const filled = {
      ...template,
      SPRUCE_SYNC_KEY: Buffer.alloc(32, 7).toString('base64'),
      SPRUCE_SYNC_ADMIN_TOKEN: 'an-admin-token-of-24-chars',
      SPRY_CLIENT_ID: 'client',
      SPRY_CLIENT_SECRET: 'secret',
      SPRY_ORGANISATION_ID: '74',
      SPRY_WEBHOOK_SECRET: 'spry-webhook-secret',
      SPRUCE_ACCESS_ID: 'aid',
      SPRUCE_SECRET_KEY: 'sk',
      SPRUCE_WEBHOOK_SECRET: 'spruce-webhook-secret',
    };
    const config = await loadConfig('deploy/config.compose.yaml', filled);
    expect(config.database.url).toMatch(/^postgres:\/\//);
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 8080 });
    expect(config.tenants[0]).toMatchObject({ id: 'acme-pt', spry: { organisationId: 74 } });
  });

  it('names each variable the template leaves empty when it is not set', async () => {
    const template = await envTemplate();
    const unset = Object.fromEntries(Object.entries(template).filter(([, value]) => value !== ''));
    const error = await loadConfig('deploy/config.compose.yaml', unset).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    for (const name of Object.keys(template).filter((key) => template[key] === '')) {
      expect((error as Error).message).toContain(`environment variable ${name} is not set`);
    }
  });

  it('compose runs two spruce-sync instances on PostgreSQL 15, each with its own hostname', async () => {
    const compose = parse(await readFile('compose.yaml', 'utf8'), { merge: true }) as { services: Record<string, { image: string; hostname?: string }> };
    const instances = Object.values(compose.services).filter((s) => s.image.startsWith('spruce-sync'));
    expect(instances).toHaveLength(2);
    expect(new Set(instances.map((s) => s.hostname)).size).toBe(2);
    expect(Object.values(compose.services).some((s) => s.image === 'postgres:15')).toBe(true);
  });
});
