// How the service process ends. A signal (SIGTERM, SIGINT) drains: no new work, running jobs
// finish, then exit 0. A crash that reached the top (an unhandled rejection, an uncaught
// exception) is logged as a stable code and the error's class or code only (its message may
// quote a record, PHI included, and a raw stack on stderr would bypass the logger's
// redaction), then drains the same way and exits 1. A drain gets `shutdownTimeoutMs`; past it
// the process exits 1 anyway. A second signal while draining exits at once.
import type { Logger } from '../observe/logger.ts';
import { failureCode } from './failure.ts';

export interface ProcessGuardOptions {
  logger: Logger;
  /** Stops the service: no new work, running jobs finish. */
  drain: () => Promise<void>;
  /** How long a drain may take before the process exits non-zero anyway. */
  shutdownTimeoutMs: number;
  /** Default process.exit. */
  exit?: (code: number) => void;
}

export interface ProcessGuard {
  /** Drains and exits with `exitCode` (or 1 if the drain fails or overruns). */
  shutdown(reason: string, exitCode: number): void;
  /** Removes the handlers. */
  dispose(): void;
}

/** Exit codes of a forced exit, by the shell's convention (128 + signal number). */
const FORCED_EXIT: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

export function installProcessGuard(options: ProcessGuardOptions): ProcessGuard {
  const { logger, shutdownTimeoutMs } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let draining = false;
  let exitCode = 0;

  const shutdown = (reason: string, code: number) => {
    exitCode = Math.max(exitCode, code);
    if (draining) return;
    draining = true;
    logger.info({ reason, shutdownTimeoutMs }, 'draining: finishing running jobs, then stopping');
    const deadline = setTimeout(() => {
      logger.error({ code: 'SHUTDOWN_TIMEOUT', shutdownTimeoutMs }, 'running jobs did not finish within server.shutdownTimeoutMs: exiting');
      exit(1);
    }, shutdownTimeoutMs);
    options.drain().then(
      () => {
        clearTimeout(deadline);
        logger.info({ exitCode }, 'stopped');
        exit(exitCode);
      },
      (error: unknown) => {
        clearTimeout(deadline);
        logger.error({ code: 'SHUTDOWN_FAILED', cause: failureCode(error) }, 'stopping failed: exiting');
        exit(1);
      },
    );
  };

  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (!draining) return shutdown(signal, 0);
    logger.warn({ code: 'SHUTDOWN_FORCED', signal }, 'second signal while draining: exiting now');
    exit(FORCED_EXIT[signal]);
  };
  const onTerm = () => onSignal('SIGTERM');
  const onInt = () => onSignal('SIGINT');
  const onRejection = (reason: unknown) => {
    logger.fatal({ code: 'UNHANDLED_REJECTION', cause: failureCode(reason) }, 'unhandled promise rejection: draining, then exiting');
    shutdown('UNHANDLED_REJECTION', 1);
  };
  const onException = (error: unknown) => {
    logger.fatal({ code: 'UNCAUGHT_EXCEPTION', cause: failureCode(error) }, 'uncaught exception: draining, then exiting');
    shutdown('UNCAUGHT_EXCEPTION', 1);
  };

  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    shutdown,
    dispose() {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}
