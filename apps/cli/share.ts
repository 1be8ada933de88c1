/**
 * `deno task share`: swarm file sharing. Not built yet: it is the next piece of work (issue 4).
 * This entry point exists so the task is discoverable and says so plainly instead of failing
 * with a missing-file error.
 *
 * @module
 */
if (import.meta.main) {
  console.error('share: file sharing is not built yet; see README.md ("What is not built yet").');
  Deno.exit(2);
}
