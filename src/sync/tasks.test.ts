import { describe, expect, it } from 'vitest';
import { directionOfTask, DIRECTION_NAMES, isDirection, tasksOf } from '../operations/directions.ts';
import type { Job } from '../store/types.ts';
import { isTaskName, jobHandlers, jobKey, TASK_NAMES, taskJob, type TaskList } from './tasks.ts';

describe('the task registry', () => {
  it('builds each task’s job under the key its events coalesce on', () => {
    expect(taskJob('spry.patient', { patientId: 12 }, { organisationId: 74 })).toEqual({ key: 'spry-patient:74:12', task: 'spry.patient', params: { patientId: 12 } });
    expect(taskJob('spruce.contact', { contactId: 'entity_1' })).toEqual({ key: 'spruce-contact:entity_1', task: 'spruce.contact', params: { contactId: 'entity_1' } });
    expect(jobKey('spruce.item', { itemId: 'ti_9' })).toBe('spruce-item:ti_9');
  });

  it('hands each handler its job’s params typed, read back from storage', async () => {
    const seen: unknown[] = [];
    const list: TaskList<null> = {
      'spry.patient': async (params) => void seen.push(params),
      'spruce.contact': async (params) => void seen.push(params),
      'spruce.item': async (params) => void seen.push(params),
    };
    const handlers = jobHandlers(list);
    expect(Object.keys(handlers).sort()).toEqual([...TASK_NAMES].sort());
    await handlers['spry.patient']({ params: { patientId: '12' } } as unknown as Job, null);
    await handlers['spruce.contact']({ params: { contactId: 'entity_1' } } as unknown as Job, null);
    expect(seen).toEqual([{ patientId: 12 }, { contactId: 'entity_1' }]);
    expect(isTaskName('spry.patient')).toBe(true);
    expect(isTaskName('toString')).toBe(false);
  });

  it('groups the tasks into the two directions an operator pauses', () => {
    expect(DIRECTION_NAMES).toEqual(['spry-to-spruce', 'spruce-to-spry']);
    expect(tasksOf('spry-to-spruce')).toEqual(['spry.patient']);
    expect(tasksOf('spruce-to-spry')).toEqual(['spruce.contact', 'spruce.item']);
    expect(directionOfTask('spruce.item')).toBe('spruce-to-spry');
    expect(directionOfTask('fanout.deliver')).toBeNull();
    expect(isDirection('sideways')).toBe(false);
  });
});
