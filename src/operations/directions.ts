// A tenant syncs in two directions; each is a set of queue tasks. Pausing a direction leaves
// its tasks waiting in the queue while the other direction carries on.
export const DIRECTIONS = {
  'spry-to-spruce': ['spry.patient'],
  'spruce-to-spry': ['spruce.contact', 'spruce.item'],
} as const satisfies Record<string, readonly string[]>;

export type Direction = keyof typeof DIRECTIONS;

export const DIRECTION_NAMES = Object.keys(DIRECTIONS) as Direction[];

export function isDirection(value: unknown): value is Direction {
  return typeof value === 'string' && Object.hasOwn(DIRECTIONS, value);
}

export function tasksOf(direction: Direction): readonly string[] {
  return DIRECTIONS[direction];
}

export function directionOfTask(task: string): Direction | null {
  for (const direction of DIRECTION_NAMES) {
    if ((DIRECTIONS[direction] as readonly string[]).includes(task)) return direction;
  }
  return null;
}
