// Signing secrets of a subscription: `whsec_` + base64 of 32 random bytes, as Standard
// Webhooks libraries expect. Shown once (on creation and rotation). A rotation adds a new
// secret in front and lets the old ones keep signing for an overlap window, so a receiver can
// switch at its own pace: during the window every delivery carries a signature per secret.
import { randomBytes } from 'node:crypto';
import type { SigningSecret } from './types.ts';

export const SECRET_PREFIX = 'whsec_';

export function newSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** The HMAC key: the base64-decoded bytes after the prefix. */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

/** Secrets that sign at `now`, newest first. */
export function signingSecrets(secrets: readonly SigningSecret[], now: number): string[] {
  return secrets.filter((s) => s.expiresAt === null || s.expiresAt > now).map((s) => s.secret);
}

/**
 * The list after a rotation at `now`: the new secret first; every secret still signing keeps
 * signing until `now + overlapMs` (or its own earlier expiry); expired ones are dropped.
 */
export function rotate(secrets: readonly SigningSecret[], fresh: string, now: number, overlapMs: number): SigningSecret[] {
  const until = now + Math.max(0, overlapMs);
  const kept = secrets
    .filter((s) => s.expiresAt === null || s.expiresAt > now)
    .map((s) => ({ ...s, expiresAt: s.expiresAt === null ? until : Math.min(s.expiresAt, until) }))
    .filter((s) => s.expiresAt > now);
  return [{ secret: fresh, createdAt: now, expiresAt: null }, ...kept];
}
