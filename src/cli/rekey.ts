// `spruce-sync rekey`: every sealed value (event payloads, ledger snapshots, stored secrets,
// fan-out secrets and message data) re-sealed with a new key, in batches, while the service keeps
// running. The configured keys are kept for reading until every row has moved; then the operator
// removes the old one from the config (docs/configuration.md, "Encryption at rest").
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { databaseEncryption, openConfiguredFanoutStore, openConfiguredStore } from '../config/database.ts';
import type { Config } from '../config/schema.ts';
import { SyncError } from '../errors.ts';
import { keyId, parseEncryptionKey, type EncryptionOptions } from '../store/cipher.ts';
import type { ResealCounts, ResealReport } from '../store/sql/reseal.ts';
import { SECRET_STATE_KEYS } from '../sync/setup.ts';
import { cliInt, printJson, printTable, withConfiguredStore } from './admin-context.ts';

interface RekeyOptions {
  config: string;
  newKey: string;
  batchSize?: string;
  offline?: boolean;
  json?: boolean;
}

export function registerRekeyCommand(program: Command): void {
  program
    .command('rekey')
    .description('Re-seal every encrypted value with a new key, online; the configured keys are read until it is done')
    .requiredOption('-c, --config <file>', 'the service config file')
    .requiredOption('--new-key <source>', 'the new key: a file holding it, or env:NAME')
    .option('--batch-size <n>', 'rows per transaction (default 500)')
    .option('--offline', 'the service is stopped: the new key need not be in the config yet')
    .option('--json', 'print JSON')
    .action(async (options: RekeyOptions) => {
      const newKey = readKey(options.newKey);
      const batchSize = cliInt(options.batchSize, 'batch-size');
      await withConfiguredStore(
        options.config,
        (config) => openForRekey(config, newKey, Boolean(options.offline)),
        async ({ main, fanout }) => {
          const secretStateKeys = SECRET_STATE_KEYS;
          const report: ResealReport = {
            ...(await main.resealAll({ batchSize, secretStateKeys })),
            ...(await fanout.resealAll({ batchSize })),
          };
          if (options.json) return printJson(report);
          printTable(
            ['column', 'resealed', 'already current', 'changed meanwhile'],
            Object.entries(report).map(([column, c]) => [column, c.resealed, c.current, c.changedMeanwhile]),
          );
          const changed = Object.values(report).reduce((n, c: ResealCounts) => n + c.changedMeanwhile, 0);
          if (changed > 0) console.log(`${changed} rows changed while being re-sealed: run rekey again until none do`);
          else {
            console.log(
              'every value is sealed with the new key: make it database.encryptionKey (or the content of the SQLite key file), ' +
                'remove the old key (from database.decryptionKeys, or the old key file) and restart',
            );
          }
        },
      );
    });
}

/** The key in a file or an environment variable; never echoed. */
function readKey(source: string): string {
  if (source.startsWith('env:')) {
    const value = process.env[source.slice('env:'.length)];
    if (!value) throw new SyncError('CONFIG_INVALID', `--new-key: ${source} is not set`, { retryable: false });
    return value.trim();
  }
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch {
    throw new SyncError('CONFIG_INVALID', `--new-key: cannot read ${source}`, { retryable: false });
  }
  parseEncryptionKey(text);
  return text.trim();
}

/**
 * Both stores, sealing with the new key and opening with it and every configured key; values
 * stored before there was a key are read as they are (so they get sealed).
 */
async function openForRekey(config: Config, newKey: string, offline: boolean) {
  if (config.database.encryption === 'off') {
    throw new SyncError('CONFIG_INVALID', 'database.encryption is off: remove it and set database.encryptionKey to the new key first', { retryable: false });
  }
  const configured = databaseEncryption(config.database);
  const known = [configured.encryptionKey, ...(configured.decryptionKeys ?? [])].filter((k): k is string => Boolean(k));
  const id = (key: string) => keyId(parseEncryptionKey(key)).toString('hex');
  if (!offline && !known.some((k) => id(k) === id(newKey))) {
    // A running service could not read what we seal.
    throw new SyncError(
      'CONFIG_INVALID',
      'the new key is not in the config, so a running service could not read the rows it re-seals: ' +
        'set it as database.encryptionKey (the old key in database.decryptionKeys), restart the service, then run rekey; ' +
        'or pass --offline while the service is stopped',
      { retryable: false },
    );
  }
  const keys: EncryptionOptions = { encryptionKey: newKey, decryptionKeys: known, acceptUnsealed: true };
  const main = await openConfiguredStore(config.database, undefined, keys);
  try {
    const fanout = await openConfiguredFanoutStore(config.database, undefined, keys);
    return {
      main,
      fanout,
      close: async () => {
        await fanout.close();
        await main.close();
      },
    };
  } catch (error) {
    await main.close();
    throw error;
  }
}
