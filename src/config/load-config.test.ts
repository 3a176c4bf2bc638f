import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from './load-config.ts';

const validYaml = `
server: { host: 127.0.0.1, port: \${PORT} }
database: { url: "sqlite:./data/test.db" }
tenants:
  - id: acme-pt
    spry:
      baseUrl: https://provider.sprypt.com
      clientId: \${SPRY_CLIENT_ID}
      clientSecret: \${SPRY_CLIENT_SECRET}
      organisationId: 74
      webhookSecrets: ["\${SPRY_WEBHOOK_SECRET}"]
      chartUrl: "https://provider.sprypt.com/patients/{patientId}"
    spruce:
      baseUrl: https://api.sprucehealth.com/v1
      accessId: aid_1
      secretKey: sk_1
      webhookSecrets: ["whsec"]
`;

const env = {
  PORT: '9090',
  SPRY_CLIENT_ID: 'client',
  SPRY_CLIENT_SECRET: 'a: "tricky" # value',
  SPRY_WEBHOOK_SECRET: 'whsec_spry',
};

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function writeConfig(text: string): Promise<string> {
  dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-config-'));
  const file = path.join(dir, 'config.yaml');
  await writeFile(file, text);
  return file;
}

describe('loadConfig', () => {
  it('reads YAML, substitutes the environment and fills defaults', async () => {
    const config = await loadConfig(await writeConfig(validYaml), env);
    expect(config.server.port).toBe(9090);
    const tenant = config.tenants[0]!;
    expect(tenant.spry.clientSecret).toBe('a: "tricky" # value');
    expect(tenant.spry.webhookSecrets).toEqual(['whsec_spry']);
    expect(tenant.sync.tag).toBe('Spry');
    expect(tenant.sync.fieldNames.nextAppointment).toBe('Next Appointment');
    expect(config.workers.concurrency).toBeGreaterThan(0);
    expect(config.database.synchronous).toBe('FULL');
  });

  it('accepts JSON, which is valid YAML', async () => {
    const json = JSON.stringify({
      tenants: [
        {
          id: 'json-pt',
          spry: { baseUrl: 'http://127.0.0.1:1', clientId: 'c', clientSecret: 's', organisationId: 1, webhookSecrets: ['x'], chartUrl: 'http://x/{patientId}' },
          spruce: { baseUrl: 'http://127.0.0.1:2/v1', accessId: 'a', secretKey: 'k', webhookSecrets: ['y'] },
        },
      ],
    });
    const config = await loadConfig(await writeConfig(json), {});
    expect(config.tenants[0]!.id).toBe('json-pt');
  });

  it('lists every problem by path', async () => {
    const file = await writeConfig(validYaml.replace('acme-pt', 'Acme PT').replace('organisationId: 74', 'organisationId: -1'));
    const error = await loadConfig(file, { PORT: '1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        'tenants.0.spry.clientId: environment variable SPRY_CLIENT_ID is not set',
        'tenants.0.spry.clientSecret: environment variable SPRY_CLIENT_SECRET is not set',
        'tenants.0.spry.webhookSecrets.0: environment variable SPRY_WEBHOOK_SECRET is not set',
      ]),
    );
    // Once each: the unset variable, not also the schema's view of the empty value.
    expect(problems.filter((p) => p.startsWith('tenants.0.spry.clientId:'))).toHaveLength(1);
    expect(problems.some((p) => p.startsWith('tenants.0.id:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('tenants.0.spry.organisationId:'))).toBe(true);
    expect((error as ConfigError).code).toBe('CONFIG_INVALID');
  });

  it('refuses duplicate tenant ids, a missing file and broken YAML', async () => {
    const tenant = {
      id: 'dup',
      spry: { baseUrl: 'http://h', clientId: 'c', clientSecret: 's', organisationId: 1, webhookSecrets: ['x'], chartUrl: 'http://x/{patientId}' },
      spruce: { baseUrl: 'http://h/v1', accessId: 'a', secretKey: 'k', webhookSecrets: ['y'] },
    };
    expect(() => parseConfig({ tenants: [tenant, tenant] })).toThrow(/tenants.1.id: duplicate tenant id dup/);
    await expect(loadConfig('/nonexistent/config.yaml')).rejects.toThrow(/cannot be read/);
    await expect(loadConfig(await writeConfig('tenants: [\n'))).rejects.toThrow(/not valid YAML/);
  });
});

describe('tenants', () => {
  it('may be empty or absent: clinics can all be added while the service runs', () => {
    expect(parseConfig({}).tenants).toEqual([]);
    expect(parseConfig({ tenants: [] }).tenants).toEqual([]);
    // Still strict: a tenant entry with an unknown key is refused.
    expect(() => parseConfig({ tenants: [{ id: 'a', colour: 'blue' }] })).toThrow(ConfigError);
  });
});

describe('unknown keys', () => {
  it('are errors named by path, with the key that was probably meant', async () => {
    const typos = validYaml
      .replace('server: { host: 127.0.0.1, port: ${PORT} }', 'server: { host: 127.0.0.1, prot: ${PORT} }\nadimn: { token: "0123456789abcdef" }')
      .replace('      webhookSecrets: ["whsec"]', '      webhookSecrets: ["whsec"]\n    sync: { tagg: Patients, fieldNames: { adress: Home } }\n    fanout: { allowedNetwork: [] }\n    nonsense: 1');
    const error = await loadConfig(await writeConfig(typos), env).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual(
      expect.arrayContaining([
        'adimn: unknown key (did you mean admin?)',
        'server.prot: unknown key (did you mean port?)',
        'tenants.0.sync.tagg: unknown key (did you mean tag?)',
        'tenants.0.sync.fieldNames.adress: unknown key (did you mean address?)',
        'tenants.0.fanout.allowedNetwork: unknown key (did you mean allowedNetworks?)',
        expect.stringMatching(/^tenants\.0\.nonsense: unknown key \(known here: id, spry, spruce, sync/),
      ]),
    );
    expect((error as ConfigError).problems).toHaveLength(6);
  });

  it('leave free-form maps alone (clinic time zones, alert headers)', () => {
    const tenant = {
      id: 'maps',
      spry: { baseUrl: 'http://h', clientId: 'c', clientSecret: 's', organisationId: 1, webhookSecrets: ['x'], chartUrl: 'http://x/{patientId}' },
      spruce: { baseUrl: 'http://h/v1', accessId: 'a', secretKey: 'k', webhookSecrets: ['y'] },
      sync: { clinicTimezones: { '12': 'America/Chicago' } },
      alerts: { url: 'https://alerts.example/hook', headers: { 'x-anything': 'v' } },
    };
    const config = parseConfig({ tenants: [tenant] });
    expect(config.tenants[0]!.sync.clinicTimezones).toEqual({ '12': 'America/Chicago' });
    expect(() => parseConfig({ tenants: [{ ...tenant, alerts: { ...tenant.alerts, header: {} } }] })).toThrow(/tenants\.0\.alerts\.header: unknown key \(did you mean headers\?\)/);
  });
});
