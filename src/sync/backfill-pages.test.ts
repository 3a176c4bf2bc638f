import { describe, expect, it } from 'vitest';
import type { SpryApi, SpryListPatientsQuery, SpryPatient } from '../spry/types.ts';
import { countPatients, walkPatientPages } from './backfill-pages.ts';
import { patientFixture } from './fixtures/spry-records.ts';

/** A Spry that lists patients by id, filtered and paged as the real one does. */
function fakeSpry(patients: SpryPatient[]) {
  const asked: SpryListPatientsQuery[] = [];
  const spry = {
    async listPatients(query: SpryListPatientsQuery) {
      asked.push(query);
      const selected = patients
        .filter((p) => !query.status || p.status === query.status)
        .filter((p) => !query.updatedSince || p.updated_date >= query.updatedSince)
        .sort((a, b) => a.patient_id - b.patient_id);
      const content = selected.slice((query.page - 1) * query.size, query.page * query.size);
      return { total: selected.length, pages: Math.ceil(selected.length / query.size), current: query.page, no_of_records: content.length, is_paged: true, content };
    },
  } as unknown as SpryApi;
  return { spry, asked, patients };
}

const many = (n: number, status: SpryPatient['status'] = 'ACTIVE') =>
  Array.from({ length: n }, (_, i) => patientFixture({ patient_id: 100 + i, status, updated_date: `2026-01-${String((i % 28) + 1).padStart(2, '0')}T00:00:00Z` }));

async function ids(pages: AsyncGenerator<{ patients: SpryPatient[] }>): Promise<number[]> {
  const seen: number[] = [];
  for await (const page of pages) seen.push(...page.patients.map((p) => p.patient_id));
  return seen;
}

describe('walkPatientPages', () => {
  it('walks every patient once, page by page, one status after another', async () => {
    const { spry } = fakeSpry([...many(7), ...many(3, 'INACTIVE').map((p) => ({ ...p, patient_id: p.patient_id + 50 }))]);
    expect(await countPatients(spry, ['ACTIVE', 'INACTIVE'])).toBe(10);
    const walked = await ids(walkPatientPages(spry, { statuses: ['INACTIVE', 'ACTIVE'], pageSize: 3 }));
    expect(walked).toEqual([150, 151, 152, 100, 101, 102, 103, 104, 105, 106]);
  });

  it('resumes after the checkpoint without skipping or repeating anyone', async () => {
    const { spry } = fakeSpry(many(10));
    const walked = await ids(walkPatientPages(spry, { pageSize: 3, from: { pass: 0, page: 2, lastPatientId: 105 } }));
    expect(walked).toEqual([106, 107, 108, 109]);
  });

  it('steps back when patients left the selection and the pages shifted', async () => {
    const { spry, patients } = fakeSpry(many(10));
    // Three patients before the checkpoint became inactive: page 3 now starts at 109.
    for (const p of patients.slice(0, 3)) p.status = 'INACTIVE';
    const walked = await ids(walkPatientPages(spry, { statuses: ['ACTIVE'], pageSize: 3, from: { pass: 0, page: 2, lastPatientId: 105 } }));
    expect(walked).toEqual([106, 107, 108, 109]);
  });

  it('passes updated_since through and stops when aborted', async () => {
    const { spry, asked } = fakeSpry(many(10));
    const controller = new AbortController();
    const walked: number[] = [];
    for await (const page of walkPatientPages(spry, { pageSize: 2, updatedSince: '2026-01-03T00:00:00Z', signal: controller.signal })) {
      walked.push(...page.patients.map((p) => p.patient_id));
      controller.abort();
    }
    expect(walked).toEqual([102, 103]);
    expect(asked.every((q) => q.updatedSince === '2026-01-03T00:00:00Z')).toBe(true);
  });
});
