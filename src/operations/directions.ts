// A tenant syncs in two directions; each is the set of queue tasks whose direction (in the task
// registry) it is. Pausing a direction leaves its tasks waiting in the queue while the other
// direction carries on.
import { isTaskName, TASK_NAMES, TASKS, type Direction, type TaskName } from '../sync/tasks.ts';

export type { Direction };

export const DIRECTION_NAMES: readonly Direction[] = [...new Set(TASK_NAMES.map((task) => TASKS[task].direction))];

export function isDirection(value: unknown): value is Direction {
  return typeof value === 'string' && (DIRECTION_NAMES as readonly string[]).includes(value);
}

export function tasksOf(direction: Direction): readonly TaskName[] {
  return TASK_NAMES.filter((task) => TASKS[task].direction === direction);
}

export function directionOfTask(task: string): Direction | null {
  return isTaskName(task) ? TASKS[task].direction : null;
}
