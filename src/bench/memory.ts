/**
 * Peak memory of a tool that runs as many processes (ansible forks a worker per host and each worker an
 * ssh; parallel-ssh runs an ssh per host; ssh's ControlPersist master daemonizes away from its parent).
 * Its processes are recognised by a marker variable in their environment, which every descendant
 * inherits, including daemons that were re-parented to init. ssh's ControlPersist master is the
 * exception: it renames itself ("ssh: <control path> [mux]") with setproctitle, which overwrites the
 * memory /proc/<pid>/environ reads, so it is also recognised by a text in its command line (the
 * run's own control-path folder). The sampler sums their resident set sizes every few milliseconds
 * and keeps the highest sum.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** RSS in /proc/<pid>/statm is counted in pages; every Linux the lab runs on uses 4 KiB pages. */
const PAGE_KIB = 4;

export interface TreeMemory {
  /** Highest sum of the RSS of the marked processes seen at one sample. */
  peakRssKiB: number;
  /**
   * Highest sum of their proportional set sizes: pages shared between them (a forked python's
   * copy-on-write image, libraries) split between the sharers instead of counted once per process.
   */
  peakPssKiB: number;
  /** How many marked processes were alive at that sample. */
  processesAtPeak: number;
  /** Marked processes seen over the whole run. */
  processesSeen: number;
  samples: number;
}

/** Every marked process still alive: its pid and start time, so a reused pid is never mistaken for it. */
export interface MarkedProcess {
  pid: number;
  startTime: string;
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Start time (field 22 of /proc/<pid>/stat) and command name: together they identify one program run
 * by one process. The name changes on exec, so a process first seen between fork and exec (still with
 * its parent's environment) is looked at again once it runs its own program.
 */
function identityOf(pid: number): { startTime: string; identity: string } | null {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === null) return null;
  const close = stat.lastIndexOf(')');
  const startTime = stat.slice(close + 2).split(' ')[19];
  if (startTime === undefined) return null;
  return { startTime, identity: `${startTime}:${stat.slice(stat.indexOf('(') + 1, close)}` };
}

function startTimeOf(pid: number): string | null {
  return identityOf(pid)?.startTime ?? null;
}

function isMarked(pid: number, marker: string, commandLineText: string | undefined): boolean {
  const environ = readText(`/proc/${pid}/environ`);
  if (environ !== null && environ.split('\0').includes(marker)) return true;
  if (commandLineText === undefined) return false;
  const commandLine = readText(`/proc/${pid}/cmdline`);
  return commandLine !== null && commandLine.includes(commandLineText);
}

function rssKiB(pid: number): number {
  const statm = readText(`/proc/${pid}/statm`);
  if (statm === null) return 0;
  return Number(statm.split(' ')[1] ?? 0) * PAGE_KIB;
}

function pssKiB(pid: number): number {
  const rollup = readText(`/proc/${pid}/smaps_rollup`);
  if (rollup === null) return 0;
  return Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
}

/**
 * Samples the marked processes until stop(). Reads are synchronous and cheap (statm for the marked
 * processes, environ once for each new pid); they run on this process's event loop, which is why the
 * benchmark samples memory in runs that it does not time.
 */
export class MarkedProcessSampler {
  private readonly known = new Map<number, { identity: string; marked: boolean }>();
  private readonly seen = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private peak = { rssKiB: 0, processes: 0 };
  private peakPss = 0;
  private samples = 0;

  private readonly intervalMs: number;
  private readonly commandLineText: string | undefined;

  /**
   * `marker` is `NAME=value` exactly as it appears in the environment; `commandLineText`, when given,
   * also marks a process whose command line holds it (pick a text only this run uses, such as a
   * folder it created).
   */
  constructor(
    private readonly marker: string,
    options: { intervalMs?: number; commandLineText?: string } = {},
  ) {
    if (!/^[A-Z_][A-Z0-9_]*=\S+$/.test(marker)) throw new Error(`sampler marker ${JSON.stringify(marker)} must look like NAME=value`);
    this.intervalMs = options.intervalMs ?? 20;
    if (!Number.isFinite(this.intervalMs) || this.intervalMs < 1) throw new Error(`sampler interval ${this.intervalMs} must be at least 1 ms`);
    if (options.commandLineText !== undefined && options.commandLineText.length < 8) {
      throw new Error('the command-line text that marks a process must be at least 8 characters, or it would match unrelated processes');
    }
    this.commandLineText = options.commandLineText;
  }

  start(): void {
    if (this.timer) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  /** Takes a last sample and stops. */
  stop(): TreeMemory {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    return {
      peakRssKiB: this.peak.rssKiB,
      peakPssKiB: this.peakPss,
      processesAtPeak: this.peak.processes,
      processesSeen: this.seen.size,
      samples: this.samples,
    };
  }

  /** Marked processes alive now (to end what a tool left behind, such as ssh ControlPersist masters). */
  alive(): MarkedProcess[] {
    return this.scan().map(({ pid, startTime }) => ({ pid, startTime }));
  }

  private scan(): { pid: number; startTime: string }[] {
    const marked: { pid: number; startTime: string }[] = [];
    let entries: string[];
    try {
      entries = readdirSync('/proc');
    } catch {
      return marked;
    }
    const present = new Set<number>();
    for (const entry of entries) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      if (pid === process.pid) continue;
      present.add(pid);
      const current = identityOf(pid);
      if (current === null) continue;
      let record = this.known.get(pid);
      if (!record || record.identity !== current.identity) {
        record = { identity: current.identity, marked: isMarked(pid, this.marker, this.commandLineText) };
        this.known.set(pid, record);
      }
      if (record.marked) marked.push({ pid, startTime: current.startTime });
    }
    for (const pid of this.known.keys()) if (!present.has(pid)) this.known.delete(pid);
    return marked;
  }

  private sample(): void {
    this.samples += 1;
    let total = 0;
    let proportional = 0;
    const marked = this.scan();
    for (const { pid, startTime } of marked) {
      this.seen.add(`${pid}:${startTime}`);
      total += rssKiB(pid);
      proportional += pssKiB(pid);
    }
    if (total > this.peak.rssKiB) this.peak = { rssKiB: total, processes: marked.length };
    if (proportional > this.peakPss) this.peakPss = proportional;
  }
}

/** Ends marked processes that are still the same processes (pid and start time), by pid. */
export function killMarked(processes: readonly MarkedProcess[]): number {
  let killed = 0;
  for (const { pid, startTime } of processes) {
    if (startTimeOf(pid) !== startTime) continue;
    try {
      process.kill(pid, 'SIGTERM');
      killed += 1;
    } catch {
      // Ended on its own in the meantime.
    }
  }
  return killed;
}
