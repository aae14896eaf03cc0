import { cite, splitLines, splitSections } from './text.js';

export interface MemoryFacts {
  totalMb: number;
  availableMb?: number;
  swapTotalMb?: number;
  swapFreeMb?: number;
  raw: string;
}

export interface DiskUsage {
  filesystem: string;
  usePercent: number;
  mountedOn: string;
  /** `df -i` reports inodes: a full inode table stops writes just like a full disk. */
  inodes: boolean;
  raw: string;
}

export interface OomKill {
  pid?: number;
  process: string;
  raw: string;
}

/** The runbook's `open_files <name> pid <pid> open <n> soft <limit> hard <limit>` line. */
export interface OpenFilesUsage {
  process: string;
  pid: number;
  open: number;
  soft?: number;
  hard?: number;
  raw: string;
}

export interface ResourceFacts {
  memory?: MemoryFacts;
  disks: DiskUsage[];
  oomKills: OomKill[];
  /** Lines saying a write failed for lack of space (`No space left on device`, `ENOSPC`). */
  noSpace: string[];
  /** Lines saying the process ran out of file descriptors. */
  tooManyOpenFiles: string[];
  openFilesLimit?: { value: number | 'unlimited'; raw: string };
  openFiles: OpenFilesUsage[];
}

const OPEN_FILES = /^open_files\s+(\S+)\s+pid\s+(\d+)\s+open\s+(\d+)\s+soft\s+(\d+|unlimited|unknown)\s+hard\s+(\d+|unlimited|unknown)\s*$/;

export function parseOpenFilesLine(line: string): OpenFilesUsage | undefined {
  const match = OPEN_FILES.exec(line.trim());
  if (!match) return undefined;
  const limit = (value: string): number | undefined => (/^\d+$/.test(value) ? Number(value) : undefined);
  const soft = limit(match[4]!);
  const hard = limit(match[5]!);
  return {
    process: match[1]!,
    pid: Number(match[2]),
    open: Number(match[3]),
    ...(soft !== undefined ? { soft } : {}),
    ...(hard !== undefined ? { hard } : {}),
    raw: cite(line),
  };
}

const OOM_PATTERNS: RegExp[] = [
  /out of memory: kill(?:ed)? process (\d+) \(([^)]+)\)/i,
  /\bKilled process (\d+) \(([^)]+)\)/,
];
const OOM_KILL_TASK = /oom-kill:.*\btask=([^,\s]+),pid=(\d+)/;

export function parseOomLine(line: string): OomKill | undefined {
  for (const pattern of OOM_PATTERNS) {
    const match = pattern.exec(line);
    if (match) return { pid: Number(match[1]), process: match[2]!, raw: cite(line) };
  }
  const task = OOM_KILL_TASK.exec(line);
  if (task) return { pid: Number(task[2]), process: task[1]!, raw: cite(line) };
  return undefined;
}

const NO_SPACE = /No space left on device|\bENOSPC\b/i;
const TOO_MANY_FILES = /Too many open files|\bEMFILE\b|No file descriptors available/i;

function memory(line: string, swapLine: string | undefined): MemoryFacts | undefined {
  const mem = /^Mem:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line.trim());
  if (!mem) return undefined;
  const swap = swapLine ? /^Swap:\s+(\d+)\s+(\d+)\s+(\d+)/.exec(swapLine.trim()) : null;
  return {
    totalMb: Number(mem[1]),
    availableMb: Number(mem[6]),
    ...(swap ? { swapTotalMb: Number(swap[1]), swapFreeMb: Number(swap[3]) } : {}),
    raw: cite(line),
  };
}

/** `df -h` / `df -i` rows; a long filesystem name may sit alone on the line before its numbers. */
function disks(lines: string[]): DiskUsage[] {
  const found: DiskUsage[] = [];
  let inTable = false;
  let inodes = false;
  let pendingName: string | undefined;
  for (const line of lines) {
    const header = /^Filesystem\s+.*\b(I?Use)%\s+Mounted on/.exec(line.trim());
    if (header) {
      inTable = true;
      inodes = header[1] === 'IUse';
      continue;
    }
    if (!inTable) continue;
    const row = /^(\S+)?\s+\S+\s+\S+\s+\S+\s+(\d{1,3})%\s+(\/\S*.*)$/.exec(line);
    if (row) {
      found.push({ filesystem: row[1] ?? pendingName ?? '', usePercent: Number(row[2]), mountedOn: row[3]!.trim(), inodes, raw: cite(line) });
      pendingName = undefined;
    } else if (/^\S+$/.test(line.trim())) {
      pendingName = line.trim();
    } else {
      inTable = false;
    }
  }
  return found;
}

function openFiles(text: string, fromUlimitSection: boolean): ResourceFacts['openFilesLimit'] {
  const limits = /^Max open files\s+(\d+|unlimited)\s+/.exec(text.trim());
  if (limits) return { value: limits[1] === 'unlimited' ? 'unlimited' : Number(limits[1]), raw: cite(text) };
  if (fromUlimitSection && /^(\d+|unlimited)$/.test(text.trim())) {
    return { value: text.trim() === 'unlimited' ? 'unlimited' : Number(text.trim()), raw: cite(text) };
  }
  const soft = /^(?:open files\s+\(-n\)|ulimit -n)\s+(\d+|unlimited)$/.exec(text.trim());
  if (soft) return { value: soft[1] === 'unlimited' ? 'unlimited' : Number(soft[1]), raw: cite(text) };
  return undefined;
}

/** `free -m`, `df -h`/`df -i`, kernel OOM lines, space and descriptor errors, `ulimit -n` / `Max open files`, `open_files` lines. */
export function parseResources(text: unknown): ResourceFacts {
  const facts: ResourceFacts = { disks: [], oomKills: [], noSpace: [], tooManyOpenFiles: [], openFiles: [] };
  const lines = splitLines(text);
  const kills = new Map<string, OomKill>();
  lines.forEach((line, index) => {
    facts.memory = facts.memory ?? memory(line, lines[index + 1]);
    const oom = parseOomLine(line);
    // The kernel reports one kill in several lines; count each process once, citing its "Killed process" line.
    if (oom) {
      const key = `${oom.pid ?? ''}:${oom.process}`;
      const known = kills.get(key);
      if (!known) kills.set(key, oom);
      else if (/Killed process/.test(oom.raw) && !/Killed process/.test(known.raw)) known.raw = oom.raw;
    }
    const usage = parseOpenFilesLine(line);
    if (usage) facts.openFiles.push(usage);
    if (NO_SPACE.test(line)) facts.noSpace.push(cite(line));
    if (TOO_MANY_FILES.test(line)) facts.tooManyOpenFiles.push(cite(line));
  });
  facts.oomKills = [...kills.values()];
  facts.disks = disks(lines);
  for (const section of splitSections(text)) {
    const ulimitSection = section.command !== null && /ulimit\s+-n|ulimit\s+-Sn|ulimit\s+-Hn/.test(section.command);
    for (const line of section.lines) {
      const limit = openFiles(line, ulimitSection);
      if (limit) facts.openFilesLimit = facts.openFilesLimit ?? limit;
    }
  }
  return facts;
}
