// Formatting of times, durations and numbers for display.

export function time(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = s / 60;
  if (m < 60) return `${m.toFixed(m < 10 ? 1 : 0)} min`;
  const hours = m / 60;
  if (hours < 48) return `${hours.toFixed(1)} h`;
  return `${(hours / 24).toFixed(1)} d`;
}

export function ago(ms, now = Date.now()) {
  return ms === null || ms === undefined ? '—' : `${duration(Math.max(0, now - ms))} ago`;
}

export function percent(rate) {
  return rate === null || rate === undefined ? '—' : `${(rate * 100).toFixed(rate < 0.1 ? 1 : 0)} %`;
}

export function number(n) {
  return n === null || n === undefined ? '—' : new Intl.NumberFormat('en-US').format(n);
}

/** datetime-local input value → epoch ms (local time), or undefined. */
export function fromLocalInput(value) {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * An audit entry's detail as readable pairs: [["fields", "phoneNumbers, emailAddresses"], …].
 * Nested objects become dotted keys; lists are joined with commas.
 */
export function detailPairs(detail, prefix = '') {
  if (!detail || typeof detail !== 'object') return [];
  return Object.entries(detail).flatMap(([key, value]) => {
    const name = prefix ? `${prefix}.${key}` : key;
    if (Array.isArray(value)) return [[name, value.map((v) => (v && typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ')]];
    if (value && typeof value === 'object') return detailPairs(value, name);
    return [[name, value === null || value === undefined ? '—' : String(value)]];
  });
}

export const DIRECTION_LABELS = { 'spry-to-spruce': 'Spry → Spruce', 'spruce-to-spry': 'Spruce → Spry' };
