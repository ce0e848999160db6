// Clocks and /proc readings shared by the benchmarks' processes and threads.
import { readFileSync } from 'node:fs';

/** Milliseconds on a clock shared by every thread and process on the machine. */
export function clock(): number {
  return performance.timeOrigin + performance.now();
}

/** A process's resident set in KiB (VmRSS), or NaN when it is gone. */
export function rssKiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : NaN;
  } catch {
    return NaN;
  }
}

/**
 * A process's main thread: nanoseconds it ran and waited for a CPU (/proc/…/schedstat). Run and
 * wait together near 100% of the time means its event loop was saturated, whatever its CPU.
 */
export function mainThreadSchedule(pid: number): { runNs: number; waitNs: number } {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ');
    return { runNs: Number(run), waitNs: Number(wait) };
  } catch {
    return { runNs: NaN, waitNs: NaN };
  }
}

// USER_HZ is 100 on every Linux build that matters here.
const TICKS = 100;

/** A process's CPU time (user + system) in seconds, or NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    return statTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / TICKS;
  } catch {
    return NaN;
  }
}

/** CPU seconds of each of these processes (those gone are left out). */
export function cpuOf(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const seconds = cpuSeconds(pid);
    if (!Number.isNaN(seconds)) out.set(pid, seconds);
  }
  return out;
}

/** CPU seconds spent between two readings by the processes of the later one. */
export function cpuSpent(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += Math.max(0, seconds - (before.get(pid) ?? 0));
  return total;
}

/** Busy and total CPU seconds of the whole machine, summed over its cores. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: (total - idle) / TICKS, total: total / TICKS };
}

function statTicks(stat: string): number {
  // Fields after the command name, which may itself contain spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** The q-quantile of sorted values (NaN when there are none). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
