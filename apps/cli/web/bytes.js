// @ts-self-types="./bytes.d.ts"
// The one byte formatter of meshtalk, shared by the commands (through apps/cli/format.ts) and the
// page (which loads it as it is: no bundler). Plain JavaScript, so that a browser can run it.

/**
 * A byte count for people: whole bytes below 1 KiB, then KiB, MiB, GiB with one decimal.
 * @param {number} bytes
 * @returns {string}
 */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) [value, unit] = [value / 1024, unit + 1];
  return `${value.toFixed(1)} ${units[unit]}`;
}
