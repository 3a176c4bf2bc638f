// Walks Spry's patient list page by page (ordered by patient id), one status after another,
// holding at most the page being worked on and the next one: memory stays flat however many
// patients there are. Resuming starts at the checkpoint's page, steps back while that page
// begins past the checkpoint (patients left the selection meanwhile and the pages shifted),
// and skips what was done.
import type { SpryApi, SpryPatient, SpryPatientStatus } from '../spry/types.ts';

export interface PagePosition {
  /** Index into the statuses (0 when walking all). */
  pass: number;
  page: number;
}

export interface PatientPage extends PagePosition {
  patients: SpryPatient[];
}

export interface WalkOptions {
  /** Walked one after another; undefined = every patient in one pass. */
  statuses?: SpryPatientStatus[];
  pageSize: number;
  /** Only patients updated at or after this time (ISO 8601). */
  updatedSince?: string;
  /** Resume here: the last page done and the highest patient id done in it. */
  from?: PagePosition & { lastPatientId: number };
  signal?: AbortSignal;
}

/** How many patients the walk will see, as Spry counts them now. */
export async function countPatients(spry: SpryApi, statuses: SpryPatientStatus[] | undefined, updatedSince?: string): Promise<number> {
  let total = 0;
  for (const status of statuses ?? [undefined]) total += (await spry.listPatients({ page: 1, size: 1, status, updatedSince })).total;
  return total;
}

export async function* walkPatientPages(spry: SpryApi, options: WalkOptions): AsyncGenerator<PatientPage> {
  const passes = options.statuses ?? [undefined];
  const from = options.from;
  for (let pass = from?.pass ?? 0; pass < passes.length; pass++) {
    const status = passes[pass];
    const fetch = (page: number) => spry.listPatients({ page, size: options.pageSize, status, updatedSince: options.updatedSince });
    const after = from && pass === from.pass ? from.lastPatientId : 0;
    let page = from && pass === from.pass ? Math.max(1, from.page) : 1;
    let current = await fetch(page);
    // Patients that left the selection shift later ones to earlier pages: step back until the
    // page starts at or before the checkpoint, so nobody is skipped.
    while (after > 0 && page > 1 && (current.content[0]?.patient_id ?? Infinity) > after) {
      page -= 1;
      current = await fetch(page);
    }
    for (;;) {
      if (options.signal?.aborted) return;
      const last = current.content.length === 0 || page >= current.pages;
      // Ask for the next page while this one is worked on.
      const next = last ? undefined : fetch(page + 1);
      next?.catch(() => undefined);
      const patients = current.content.filter((p) => p.patient_id > after);
      if (patients.length > 0) yield { pass, page, patients };
      if (!next) break;
      page += 1;
      current = await next;
    }
  }
}
