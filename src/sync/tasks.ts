// The queue's tasks in one table: each task's name, the params its jobs carry, the key its
// jobs are ordered and coalesced under, and the sync direction it belongs to. Ingest, the
// handlers, the operator's directions and queuePatientSync all go through it, so a task name
// is never a bare string joined by grep. graphile-worker's `Tasks` interface and `TaskList`
// are the model.
import type { EnqueueJob, Job } from '../store/types.ts';

/** Task name → the params its jobs carry (ids only, never PHI). */
export interface TaskParams {
  /** Drive one Spry patient's Spruce contact to the patient's current records. */
  'spry.patient': { patientId: number };
  /** Run the queued Spruce events of one contact. */
  'spruce.contact': { contactId: string };
  /** Chart the queued Spruce events of one conversation item. */
  'spruce.item': { itemId: string };
}

export type TaskName = keyof TaskParams;

/** What a task's key needs beyond its params. */
interface TaskScopes {
  'spry.patient': { organisationId: number };
  'spruce.contact': Record<never, never>;
  'spruce.item': Record<never, never>;
}

/** The scope argument of a task that needs one; none for the others. */
type ScopeArgs<K extends TaskName> = keyof TaskScopes[K] extends never ? [] : [scope: TaskScopes[K]];

/** A tenant syncs in two directions; pausing one leaves its tasks' jobs waiting. */
export type Direction = 'spry-to-spruce' | 'spruce-to-spry';

interface TaskSpec<K extends TaskName> {
  direction: Direction;
  /** Jobs under one key run one at a time, in order; events for the key fold into its job. */
  key: (params: TaskParams[K], ...scope: ScopeArgs<K>) => string;
  /** The params as stored (a JSON column of ids) back into their type. */
  read: (stored: Record<string, string | number>) => TaskParams[K];
}

export const TASKS: { readonly [K in TaskName]: TaskSpec<K> } = {
  'spry.patient': {
    direction: 'spry-to-spruce',
    key: ({ patientId }, { organisationId }) => `spry-patient:${organisationId}:${patientId}`,
    read: (stored) => ({ patientId: Number(stored.patientId) }),
  },
  'spruce.contact': {
    direction: 'spruce-to-spry',
    key: ({ contactId }) => `spruce-contact:${contactId}`,
    read: (stored) => ({ contactId: String(stored.contactId ?? '') }),
  },
  'spruce.item': {
    direction: 'spruce-to-spry',
    key: ({ itemId }) => `spruce-item:${itemId}`,
    read: (stored) => ({ itemId: String(stored.itemId ?? '') }),
  },
};

export const TASK_NAMES = Object.keys(TASKS) as TaskName[];

export function isTaskName(value: unknown): value is TaskName {
  return typeof value === 'string' && Object.hasOwn(TASKS, value);
}

/** The key a task's job with these params runs under. */
export function jobKey<K extends TaskName>(task: K, params: TaskParams[K], ...scope: ScopeArgs<K>): string {
  return (TASKS[task].key as (params: TaskParams[K], ...scope: ScopeArgs<K>) => string)(params, ...scope);
}

/** The job that runs `task` with `params`, under its key. */
export function taskJob<K extends TaskName>(task: K, params: TaskParams[K], ...scope: ScopeArgs<K>): EnqueueJob & { task: K } {
  return { key: jobKey(task, params, ...scope), task, params };
}

/** A handler per task, given its job's params typed (graphile-worker's TaskList). */
export type TaskList<Run> = { [K in TaskName]: (params: TaskParams[K], job: Job, run: Run) => Promise<void> };

/** The handlers as the worker pool takes them, by task name: each reads its job's params first. */
export function jobHandlers<Run>(list: TaskList<Run>): Record<TaskName, (job: Job, run: Run) => Promise<void>> {
  const handlers = {} as Record<TaskName, (job: Job, run: Run) => Promise<void>>;
  for (const task of TASK_NAMES) {
    const handle = list[task] as (params: unknown, job: Job, run: Run) => Promise<void>;
    handlers[task] = (job, run) => handle(TASKS[task].read(job.params), job, run);
  }
  return handlers;
}
