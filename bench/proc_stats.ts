// What Linux's /proc says about a process and the machine: CPU time, RSS, the CPU model. Every
// benchmark states the CPU model, since the machines it runs on differ (AMD EPYC, Intel Xeon).

const AT_CLKTCK = 17n;

/** Clock ticks a second, as /proc/<pid>/stat and /proc/stat count CPU time. */
export const clockTicks: number = readClockTicks();

// The kernel hands every process its tick rate in the auxiliary vector (what sysconf reads):
// pairs of 64-bit words, type then value, ending at type 0.
function readClockTicks(): number {
  try {
    const bytes = Deno.readFileSync("/proc/self/auxv");
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let at = 0; at + 16 <= bytes.length; at += 16) {
      const type = view.getBigUint64(at, true);
      if (type === 0n) break;
      if (type === AT_CLKTCK) return Number(view.getBigUint64(at + 8, true));
    }
  } catch {
    // not Linux, or no /proc: the usual value
  }
  return 100;
}

/**
 * utime + stime of a process (all its threads), in seconds.
 *
 * @example
 * ```ts
 * import { cpuSeconds } from "./proc_stats.ts";
 * console.log(cpuSeconds("self") >= 0); // true
 * ```
 */
export function cpuSeconds(pid: number | "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicks; // fields 14 and 15 of stat(5)
}

/**
 * CPU time the whole machine spent busy (all cores, anything but idle and iowait), in seconds.
 *
 * @example
 * ```ts
 * import { systemBusySeconds } from "./proc_stats.ts";
 * console.log(systemBusySeconds() > 0); // true
 * ```
 */
export function systemBusySeconds(): number {
  const fields = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - fields[3] - fields[4]) / clockTicks;
}

/**
 * Resident memory of a process now, in MiB.
 *
 * @example
 * ```ts
 * import { rssMiB } from "./proc_stats.ts";
 * console.log(rssMiB(Deno.pid) > 1); // true
 * ```
 */
export function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status: has the process exited?`);
  return Number(match[1]) / 1024;
}

/**
 * The CPU's model name from /proc/cpuinfo (e.g. "AMD EPYC"), with the number of cores this
 * process may use; the build target where there is no /proc/cpuinfo.
 *
 * @example
 * ```ts
 * import { cpuModel } from "./proc_stats.ts";
 * console.log(cpuModel().length > 0); // true
 * ```
 */
export function cpuModel(): string {
  const cores = `${navigator.hardwareConcurrency} cores`;
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"));
    if (match) return `${match[1].trim()}, ${cores}`;
  } catch {
    // not Linux
  }
  return `${Deno.build.arch} (model unknown), ${cores}`;
}
