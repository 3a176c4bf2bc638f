import { describe, expect, it } from 'vitest';
import { occurrenceKey } from './catch-up.ts';

describe('catch-up keys for byte-identical log entries', () => {
  it('keeps the live key for the first entry with a digest and numbers the other distinct entries', () => {
    const seen = new Map<string, Set<string>>();
    expect(occurrenceKey(seen, 'sha256:aa', 'wev_1')).toBe('sha256:aa');
    expect(occurrenceKey(seen, 'sha256:bb', 'wev_2')).toBe('sha256:bb');
    // The same bytes again, as another event in the log: not a redelivery.
    expect(occurrenceKey(seen, 'sha256:aa', 'wev_3')).toBe('sha256:aa#2');
    // One log entry met twice (pages overlap) keeps its key.
    expect(occurrenceKey(seen, 'sha256:aa', 'wev_3')).toBe('sha256:aa#2');
    expect(occurrenceKey(seen, 'sha256:aa', 'wev_1')).toBe('sha256:aa');
  });

  it('leaves an event id alone', () => {
    const seen = new Map<string, Set<string>>();
    expect(occurrenceKey(seen, 'evt_1', 'wev_1')).toBe('evt_1');
    expect(occurrenceKey(seen, 'evt_1', 'wev_2')).toBe('evt_1');
  });
});
