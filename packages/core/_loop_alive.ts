// Helper of the tests that wait on a ring or the control array from the thread that wakes them:
// Deno's event loop does not count a pending Atomics.waitAsync as work, so a wake from the same
// thread would find the loop already ended. A timer keeps it running while `body` waits.
// (It belongs with the other test helpers in testing.ts.)

/** Runs `body` with the event loop held open. */
export async function withLoopAlive<T>(body: () => Promise<T>): Promise<T> {
  const keepAlive = setInterval(() => {}, 1000);
  try {
    return await body();
  } finally {
    clearInterval(keepAlive);
  }
}
