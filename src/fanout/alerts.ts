// Alerts of the fan-out: `subscription_disabled` fires when a subscription is disabled after a
// sustained outage of its endpoint, and resolves when an operator re-enables it. Sent like the
// service's other alerts (observe/alerts.ts): a JSON POST to the tenant's `alerts.url`, with its
// headers; and always handed to `onAlert` (logs, metrics, tests). Ids and numbers only.
import type { AlertsConfig } from '../config/schema.ts';
import { postJson, type AlertNotice, type PostAlert } from '../observe/alerts.ts';

export interface FanoutAlert {
  tenantId: string;
  alert: 'subscription_disabled';
  subscriptionId: string;
  state: 'firing' | 'resolved';
  /** Failed attempts in a row when it fired. */
  value: number;
  /** The outage (ms) after which a subscription is disabled. */
  threshold: number;
  /** ISO 8601. */
  at: string;
  service: 'spruce-sync';
}

export interface FanoutAlerterOptions {
  tenants: readonly { id: string; alerts?: AlertsConfig }[];
  post?: PostAlert;
  onAlert?: (alert: FanoutAlert) => void;
  onError?: (error: unknown, tenantId: string) => void;
}

export type RaiseAlert = (alert: FanoutAlert) => void;

export function fanoutAlerter(options: FanoutAlerterOptions): RaiseAlert {
  const post = options.post ?? postJson;
  return (alert) => {
    options.onAlert?.(alert);
    // Looked up when raised: the tenant list may have changed since (tenants as data).
    const config = options.tenants.find((t) => t.id === alert.tenantId)?.alerts;
    if (!config) return;
    // The transport only serializes the body; ours has the same envelope with a fan-out alert name.
    post(config.url, alert as unknown as AlertNotice, config.headers).catch((error: unknown) => options.onError?.(error, alert.tenantId));
  };
}
