// What the sync remembers between runs: the write ledger (sealed: it holds PHI), and the state
// table's per-tenant rows: documents (JSON text owned by their readers), counters and flags.
import { isSealedValue, type Cipher } from '../cipher.ts';
import { sealLedgerFields, stateSecretContext, toLedger, type LedgerRow } from '../rows.ts';
import type { Counter, Flag, LedgerEntry, LedgerSystem } from '../types.ts';
import { sql, type Db } from './sql.ts';

export async function getLedger<S extends LedgerSystem>(db: Db, cipher: Cipher, tenantId: string, system: S, recordId: string): Promise<LedgerEntry<S> | null> {
  const row = await db.get<LedgerRow>(sql`SELECT * FROM ledger WHERE tenant_id = ${tenantId} AND system = ${system} AND record_id = ${recordId}`);
  return row ? toLedger<S>(row, cipher) : null;
}

export async function putLedger(db: Db, cipher: Cipher, entry: LedgerEntry): Promise<void> {
  await db.run(sql`
    INSERT INTO ledger (tenant_id, system, record_id, fields, hash, written_at)
    VALUES (${entry.tenantId}, ${entry.system}, ${entry.recordId}, ${sealLedgerFields(entry, cipher)}, ${entry.hash}, ${entry.writtenAt})
    ON CONFLICT (tenant_id, system, record_id) DO UPDATE SET
      fields = excluded.fields, hash = excluded.hash, written_at = excluded.written_at`);
}

export async function getState(db: Db, tenantId: string, key: string): Promise<string | null> {
  const row = await db.get<{ value: string }>(sql`SELECT value FROM state WHERE tenant_id = ${tenantId} AND key = ${key}`);
  return row?.value ?? null;
}

/** A scan of the state table (its key leads with the tenant), a few rows per tenant: cheaper than a query per tenant. */
export async function statesOf(db: Db, key: string): Promise<Map<string, string>> {
  const rows = await db.all<{ tenant_id: string; value: string }>(sql`SELECT tenant_id, value FROM state WHERE key = ${key}`);
  return new Map(rows.map((r) => [r.tenant_id, r.value]));
}

export async function setState(db: Db, tenantId: string, key: string, value: string): Promise<void> {
  await db.run(sql`
    INSERT INTO state (tenant_id, key, value) VALUES (${tenantId}, ${key}, ${value})
    ON CONFLICT (tenant_id, key) DO UPDATE SET value = excluded.value`);
}

/** Sealed secrets are kept as base64 text (the state table holds text); without a key, as they are. */
export async function getSecret(db: Db, cipher: Cipher, tenantId: string, key: string): Promise<string | null> {
  const stored = await getState(db, tenantId, key);
  if (stored === null || stored === '') return null;
  const bytes = Buffer.from(stored, 'base64');
  if (!cipher.encrypting && !isSealedValue(bytes)) return stored;
  return cipher.open(bytes, stateSecretContext(tenantId, key)).toString('utf8');
}

export async function setSecret(db: Db, cipher: Cipher, tenantId: string, key: string, secret: string): Promise<void> {
  const value = cipher.encrypting ? cipher.seal(Buffer.from(secret, 'utf8'), stateSecretContext(tenantId, key)).toString('base64') : secret;
  await setState(db, tenantId, key, value);
}

export async function getCounter(db: Db, tenantId: string, counter: Counter): Promise<number> {
  return Number((await getState(db, tenantId, counter)) ?? 0);
}

/** The state table keeps text: the counter is read, added to and written back in one statement. */
export async function incrementCounter(db: Db, tenantId: string, counter: Counter): Promise<number> {
  const row = await db.get<{ value: string }>(sql`
    INSERT INTO state AS s (tenant_id, key, value) VALUES (${tenantId}, ${counter}, '1')
    ON CONFLICT (tenant_id, key) DO UPDATE SET value = CAST(CAST(s.value AS BIGINT) + 1 AS TEXT)
    RETURNING value`);
  return Number(row!.value);
}

/** A flag is set when its row holds anything but the empty text. */
export async function isFlagSet(db: Db, tenantId: string, flag: Flag): Promise<boolean> {
  return Boolean(await getState(db, tenantId, flag));
}

export async function setFlag(db: Db, tenantId: string, flag: Flag): Promise<void> {
  await setState(db, tenantId, flag, '1');
}
