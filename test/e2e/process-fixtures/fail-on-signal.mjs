// Test fixture, preloaded into `spruce-sync start` by process-safety.test.ts (node --import);
// never part of the product. On SIGUSR2 it fails the way a bug would, with PHI in the error's
// message: an unhandled rejection, or with FAIL_AS=exception an uncaught exception.
process.on('SIGUSR2', () => {
  const error = process.env.FAIL_AS === 'exception' ? new TypeError('Jane Doe, born 1970-01-01') : new Error('Jane Doe, born 1970-01-01');
  if (process.env.FAIL_AS === 'exception') {
    setImmediate(() => {
      throw error;
    });
  } else {
    void Promise.reject(error);
  }
});
