// Test fixture for process-safety.test.ts: the process guard around a drain that never ends.
// Usage: run-ts.js hanging-drain.ts <shutdownTimeoutMs>. Prints "ready" once the guard is on.
import { installProcessGuard } from '../../../src/cli/process-guard.ts';
import { createLogger } from '../../../src/observe/logger.ts';

installProcessGuard({
  logger: createLogger({ format: 'json' }),
  shutdownTimeoutMs: Number(process.argv[2]),
  drain: () => new Promise<void>(() => {}),
});
setInterval(() => {}, 60_000);
console.log('ready');
