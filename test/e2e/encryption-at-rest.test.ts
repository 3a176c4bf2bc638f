// Encrypted at rest by default (issue 14): after a sync on SQLite with no encryption setting the
// patient's name and phone are nowhere in the database files (read as raw bytes) and the files are
// owner-only; PostgreSQL without a key and without `encryption: off` does not start; and
// `spruce-sync rekey` moves a running installation to a new key.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { registerRekeyCommand } from '../../src/cli/rekey.ts';
import { registerStatusCommand } from '../../src/cli/status.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { SANDBOX_TENANT_ID, sandboxConfig, startSandbox, startServiceOnSandbox, type Sandbox, type SandboxWithService } from '../../src/sandbox/environment.ts';
import { startService, type RunningService } from '../../src/service.ts';
import { openStore } from '../../src/store/open-store.ts';
import { runCommands } from './cli-support.ts';
import { contactsOfPatient, eventually, quiesce, SANDBOX_SPRY_ORG } from './support.ts';

const FIRST = 'Zephyrine';
const LAST = 'Quillfeather';
const PHONE = '+12065550199';

let sandbox: Sandbox | undefined;
let running: SandboxWithService | undefined;
const services: RunningService[] = [];
let dir = '';

afterEach(async () => {
  for (const service of services.splice(0)) await service.close();
  await running?.close();
  running = undefined;
  await sandbox?.close();
  sandbox = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = '';
});

/** A patient registered in Spry and synced to Spruce, then edited in Spruce (so both sides' events hold PHI). */
async function syncOnePatient(world: SandboxWithService & { sandbox: Sandbox }): Promise<number> {
  const patient = world.sandbox.spry.staff.registerPatient(SANDBOX_SPRY_ORG, {
    first_name: FIRST,
    last_name: LAST,
    date_of_birth: '1984-02-29',
    sex: 'FEMALE',
    mobile: PHONE,
    email_address: 'zq@example.test',
  });
  const [contact] = await eventually(() => {
    const found = contactsOfPatient(world, patient.patient_id);
    return found.length > 0 ? found : undefined;
  });
  world.sandbox.spruce.staff.editContact(contact!.id, { emailAddresses: [{ value: 'zq.new@example.test' }] });
  await eventually(() => world.sandbox.spry.patient(SANDBOX_SPRY_ORG, patient.patient_id)!.email_address === 'zq.new@example.test');
  await quiesce(world as never);
  return patient.patient_id;
}

const files = (db: string) => [db, `${db}-wal`, `${db}-shm`, `${db}.key`];

describe('encrypted at rest by default', () => {
  it('after a sync on SQLite with no encryption setting, the name and phone are nowhere in the database files, which are 0600', async () => {
    sandbox = await startSandbox({ patients: 3 });
    dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-at-rest-'));
    const db = path.join(dir, 'data', 'spruce-sync.db');
    running = await startServiceOnSandbox(sandbox, { databaseUrl: `sqlite:${db}` });
    expect(running.config.database.encryptionKey).toBeUndefined();
    expect(running.config.database.encryption).toBe('on');
    const patientId = await syncOnePatient({ ...running, sandbox });

    // The data is there, readable through the store...
    const events = await running.service.store.searchEvents({ limit: 100 });
    const ledger = await Promise.all([
      running.service.store.getLedger(SANDBOX_TENANT_ID, 'spry', String(patientId)),
      running.service.store.getLedger(SANDBOX_TENANT_ID, 'spruce', contactsOfPatient({ sandbox }, patientId)[0]!.id),
    ]);
    expect(events.some((e) => e.payload.toString().includes(LAST))).toBe(true);
    expect(JSON.stringify(ledger.map((entry) => entry?.fields))).toContain(PHONE);

    // ...and not in the files, while running (WAL and shared memory included) and after a checkpoint.
    const forbidden = [FIRST, LAST, PHONE, PHONE.slice(2), '555-0199', 'zq.new@example.test'].map((s) => Buffer.from(s));
    const check = () => {
      for (const file of files(db)) {
        if (!existsSync(file)) continue;
        expect(statSync(file).mode & 0o777, file).toBe(0o600);
        const bytes = readFileSync(file);
        for (const phi of forbidden) expect(bytes.includes(phi), `${phi.toString()} in ${path.basename(file)}`).toBe(false);
      }
    };
    for (const file of [db, `${db}-wal`, `${db}.key`]) expect(existsSync(file), file).toBe(true);
    check();
    await running.service.close();
    check();
    // The key file holds a key, and the database is of no use without it.
    const plain = await openStore(`sqlite:${db}`);
    try {
      await expect(plain.searchEvents({ patientId, limit: 50 })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    } finally {
      await plain.close();
    }
    running = { ...running, close: async () => {} };
  });

  it('on PostgreSQL without a key and without encryption: off, neither the service nor a command starts', async () => {
    sandbox = await startSandbox({ patients: 1 });
    dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-pg-key-'));
    const raw = sandboxConfig(sandbox, { port: 0, databaseUrl: 'postgres://127.0.0.1:5432/test', secrets: { spryWebhook: 'w', spruceWebhook: 'w' } });
    await expect(startService(parseConfig(raw))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('database.encryptionKey is required on PostgreSQL'),
    });
    const configFile = path.join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify(raw));
    const status = await runCommands([registerStatusCommand], ['status', '-c', configFile]);
    expect(status.code).toBe(1);
    expect(status.err).toMatch(/CONFIG_INVALID.*encryption: off/);
  });

  it('rekey moves a running installation to a new key, then the old key can go', async () => {
    sandbox = await startSandbox({ patients: 3 });
    dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-rekey-'));
    const db = path.join(dir, 'spruce-sync.db');
    const first = await startServiceOnSandbox(sandbox, { databaseUrl: `sqlite:${db}` });
    running = first;
    const patientId = await syncOnePatient({ ...first, sandbox });
    await first.service.close();
    running = undefined;

    // The documented steps: a new key; the config seals with it and still reads the old one; restart.
    const oldKey = readFileSync(`${db}.key`, 'utf8').trim();
    const newKey = randomBytes(32).toString('base64');
    const newKeyFile = path.join(dir, 'new.key');
    await writeFile(newKeyFile, `${newKey}\n`, { mode: 0o600 });
    const raw = sandboxConfig(sandbox, {
      port: first.config.server.port,
      databaseUrl: `sqlite:${db}`,
      secrets: first.secrets,
      config: { database: { url: `sqlite:${db}`, encryptionKey: newKey, decryptionKeys: [oldKey] } },
    });
    const configFile = path.join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify(raw));
    const service = await startService(parseConfig(raw), { clock: sandbox.clock });
    services.push(service);

    // A key the config does not know would leave the running service unable to read: refused.
    const strayFile = path.join(dir, 'stray.key');
    await writeFile(strayFile, randomBytes(32).toString('hex'));
    const stray = await runCommands([registerRekeyCommand], ['rekey', '-c', configFile, '--new-key', strayFile]);
    expect(stray.code).toBe(1);
    expect(stray.err).toMatch(/not in the config/);

    // Online: the service keeps syncing while rekey runs.
    sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, patientId, { last_name: `${LAST}-Two` });
    const rekey = await runCommands([registerRekeyCommand], ['rekey', '-c', configFile, '--new-key', newKeyFile, '--batch-size', '2']);
    expect(rekey.code, rekey.err).toBeUndefined();
    const counts = Object.fromEntries(
      rekey.out
        .split('\n')
        .slice(1)
        .map((line) => line.split(/\s+/))
        .filter((cells) => cells.length === 4)
        .map(([column, resealed]) => [column, Number(resealed)]),
    );
    expect(counts['events.payload']).toBeGreaterThan(0);
    expect(counts['ledger.fields']).toBeGreaterThan(0);
    // The tenant directory's secrets are one of the sealed columns (the config tenant's row was
    // re-seeded with the new key at the restart already).
    expect(Object.keys(counts).sort()).toEqual(['events.payload', 'fanout_messages.data', 'fanout_subscriptions.secrets', 'ledger.fields', 'state.value', 'tenants.secrets']);
    await eventually(() => sandbox!.spruce.contacts().some((c) => c.familyName === `${LAST}-Two`));
    // And Spruce's event for that write stored (its payload holds the name, read back below):
    // the contact changes before its webhook arrives, and on a busy machine after the close.
    await eventually(async () => (await service.store.searchEvents({ source: 'spruce', limit: 500 })).some((e) => e.payload.toString().includes(`${LAST}-Two`)));
    await service.close();
    services.splice(0);

    // A second pass finds what the service sealed meanwhile already under the new key.
    const again = await runCommands([registerRekeyCommand], ['rekey', '-c', configFile, '--new-key', `env:SPRUCE_SYNC_TEST_NEW_KEY`]).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'CONFIG_INVALID' });
    process.env.SPRUCE_SYNC_TEST_NEW_KEY = newKey;
    try {
      const second = await runCommands([registerRekeyCommand], ['rekey', '-c', configFile, '--new-key', 'env:SPRUCE_SYNC_TEST_NEW_KEY', '--json']);
      expect(second.code, second.err).toBeUndefined();
      const report = JSON.parse(second.out) as Record<string, { resealed: number; current: number }>;
      for (const counts of Object.values(report)) expect(counts.resealed).toBe(0);
    } finally {
      delete process.env.SPRUCE_SYNC_TEST_NEW_KEY;
    }

    // The old key removed: everything reads with the new key alone.
    const rotated = await openStore(`sqlite:${db}`, { encryptionKey: newKey });
    try {
      const events = await rotated.searchEvents({ limit: 500 });
      expect(events.length).toBeGreaterThan(0);
      expect(events.some((e) => e.payload.toString().includes(`${LAST}-Two`))).toBe(true);
      expect((await rotated.listTenants()).map((t) => t.id)).toEqual([first.config.tenants[0]!.id]);
    } finally {
      await rotated.close();
    }
    const old = await openStore(`sqlite:${db}`, { encryptionKey: oldKey });
    try {
      await expect(old.searchEvents({ patientId, limit: 50 })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    } finally {
      await old.close();
    }
  });
});
