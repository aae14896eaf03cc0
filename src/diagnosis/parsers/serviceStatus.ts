import { cite, normalizeServiceName, splitLines } from './text.js';

export type ServiceState = 'running' | 'stopped' | 'crashloop' | 'starting' | 'failed' | 'unknown';
export type StatusSource = 'supervisor' | 'systemd' | 'docker' | 'process';

export interface ServiceStatus {
  /** docservice, converter, example, metrics, adminpanel, nginx, postgres, rabbitmq, redis, or the name as given. */
  service: string;
  /** The name as the manager prints it: `ds:docservice`, `ds-docservice.service`, a container name. */
  name: string;
  state: ServiceState;
  source: StatusSource;
  /** The manager's own words after the state (`Exited too quickly …`, `pid 910, uptime …`, `Exited (137) …`). */
  detail?: string;
  exitCode?: number;
  oomKilled?: boolean;
  raw: string;
}

const SUPERVISOR_STATES: Record<string, ServiceState> = {
  RUNNING: 'running',
  STOPPED: 'stopped',
  STOPPING: 'stopped',
  EXITED: 'stopped',
  STARTING: 'starting',
  BACKOFF: 'crashloop',
  FATAL: 'failed',
  UNKNOWN: 'unknown',
};

const SUPERVISOR_LINE = /^(\S+)\s+(RUNNING|STOPPED|STOPPING|STARTING|BACKOFF|FATAL|EXITED|UNKNOWN)(?:\s+(.*))?$/;
/** Output of `supervisorctl start|stop|restart`: `ds:docservice: ERROR (spawn error)`, `ds:example: started`. */
const SUPERVISOR_ACTION = /^(\S+):\s+(started|stopped|ERROR \((?:spawn error|abnormal termination|not running)\))\s*$/;

function supervisorLine(line: string): ServiceStatus | undefined {
  const text = line.trim();
  const status = SUPERVISOR_LINE.exec(text);
  if (status) {
    const detail = status[3]?.trim();
    return {
      service: normalizeServiceName(status[1]!),
      name: status[1]!,
      state: SUPERVISOR_STATES[status[2]!] ?? 'unknown',
      source: 'supervisor',
      ...(detail ? { detail } : {}),
      raw: cite(line),
    };
  }
  const action = SUPERVISOR_ACTION.exec(text);
  if (!action) return undefined;
  const word = action[2]!;
  const state: ServiceState = word === 'started' ? 'running' : word === 'stopped' ? 'stopped' : 'failed';
  return { service: normalizeServiceName(action[1]!), name: action[1]!, state, source: 'supervisor', detail: word, raw: cite(line) };
}

const SYSTEMD_UNIT = /^(?:[●○×*]\s+)?([\w@.:-]+)\.service\b/;
const SYSTEMD_ACTIVE = /^Active:\s+(\S+)(?:\s+\(([^)]*)\))?/;

function systemdState(active: string, sub: string | undefined): ServiceState {
  if (active === 'active') return sub === 'running' ? 'running' : sub === 'exited' ? 'unknown' : 'running';
  if (active === 'inactive' || active === 'deactivating') return 'stopped';
  if (active === 'failed') return 'failed';
  if (active === 'activating') return sub === 'auto-restart' ? 'crashloop' : 'starting';
  if (active === 'reloading') return 'running';
  return 'unknown';
}

const PROCESS_LINE = /^process\s+(\S+)\s+(running|not running)\b(.*)$/;

const DOCKER_STATUS =
  /\s(Up\s.+?|Exited \((-?\d+)\)\s.+?\sago|Restarting \((-?\d+)\)\s.+?\sago|Created|Dead|Removal In Progress)(?:\s{2,}|\s*$)/;

function dockerPsLine(line: string): ServiceStatus | undefined {
  if (/^CONTAINER ID\s/.test(line.trim())) return undefined;
  if (!/^[0-9a-f]{12,64}\s/.test(line.trim())) return undefined;
  const status = DOCKER_STATUS.exec(line);
  if (!status) return undefined;
  const tokens = line.trim().split(/\s+/);
  const name = tokens[tokens.length - 1] ?? '';
  const image = tokens[1] ?? '';
  const text = status[1]!;
  let state: ServiceState = 'unknown';
  let exitCode: number | undefined;
  if (text.startsWith('Up')) state = /\(unhealthy\)/.test(text) ? 'failed' : /\(health: starting\)/.test(text) ? 'starting' : 'running';
  else if (text.startsWith('Exited')) {
    state = 'stopped';
    exitCode = Number(status[2]);
  } else if (text.startsWith('Restarting')) {
    state = 'crashloop';
    exitCode = Number(status[3]);
  } else if (text === 'Created') state = 'stopped';
  else if (text === 'Dead') state = 'failed';
  return {
    service: containerService(image, name),
    name,
    state,
    source: 'docker',
    detail: text,
    ...(exitCode !== undefined ? { exitCode } : {}),
    raw: cite(line),
  };
}

/** A container of the ONLYOFFICE image stands for docservice; others keep their name. */
function containerService(image: string, name: string): string {
  if (/onlyoffice\/documentserver/i.test(image)) return 'docservice';
  return name ? normalizeServiceName(name.replace(/^\//, '')) : 'container';
}

interface InspectState {
  status?: string;
  restarting?: boolean;
  oomKilled?: boolean;
  exitCode?: number;
  name?: string;
  image?: string;
  statusLine?: string;
  oomLine?: string;
  restartingLine?: string;
}

/** Reads `docker inspect` line by line, so excerpts and truncated JSON still give the state. */
function dockerInspect(lines: string[]): ServiceStatus[] {
  const containers: InspectState[] = [];
  let current: InspectState | undefined;
  const field = (line: string, key: string): string | undefined => {
    const match = new RegExp(`^"${key}"\\s*:\\s*("(?:[^"\\\\]|\\\\.)*"|true|false|-?\\d+)`).exec(line.trim());
    return match ? match[1]!.replace(/^"|"$/g, '') : undefined;
  };
  for (const line of lines) {
    const status = field(line, 'Status');
    const isStateStatus = status !== undefined && /^(running|exited|restarting|paused|created|dead|removing)$/.test(status);
    if (isStateStatus) {
      if (!current || current.status !== undefined) {
        current = {};
        containers.push(current);
      }
      current.status = status;
      current.statusLine = cite(line);
      continue;
    }
    // `docker inspect --format` may print Name and Image before the state; the full document prints them after.
    const name = field(line, 'Name');
    if (name !== undefined && name.startsWith('/')) {
      if (!current || current.name !== undefined) {
        current = {};
        containers.push(current);
      }
      current.name = name.slice(1);
      continue;
    }
    const running = field(line, 'Running');
    if (running !== undefined && !current) {
      current = {};
      containers.push(current);
    }
    if (!current) continue;
    if (running !== undefined && current.status === undefined) {
      current.status = running === 'true' ? 'running' : 'exited';
      current.statusLine = cite(line);
    }
    const restarting = field(line, 'Restarting');
    if (restarting !== undefined) {
      current.restarting = restarting === 'true';
      if (current.restarting) current.restartingLine = cite(line);
    }
    const oom = field(line, 'OOMKilled');
    if (oom !== undefined) {
      current.oomKilled = oom === 'true';
      if (current.oomKilled) current.oomLine = cite(line);
    }
    const exit = field(line, 'ExitCode');
    if (exit !== undefined && /^-?\d+$/.test(exit)) current.exitCode = Number(exit);

    const image = field(line, 'Image');
    if (image !== undefined && !image.startsWith('sha256:')) current.image = image;
  }
  return containers
    .filter((container) => container.status !== undefined)
    .map((container) => {
      const state: ServiceState = container.restarting
        ? 'crashloop'
        : container.status === 'running'
          ? 'running'
          : container.status === 'restarting'
            ? 'crashloop'
            : container.status === 'dead'
              ? 'failed'
              : 'stopped';
      const raw = container.oomLine ?? container.restartingLine ?? container.statusLine ?? '';
      return {
        service: container.image || container.name ? containerService(container.image ?? '', container.name ?? '') : 'container',
        name: container.name ?? 'container',
        state,
        source: 'docker' as const,
        detail: container.status!,
        ...(container.exitCode !== undefined ? { exitCode: container.exitCode } : {}),
        ...(container.oomKilled !== undefined ? { oomKilled: container.oomKilled } : {}),
        raw,
      };
    });
}

function systemd(lines: string[]): ServiceStatus[] {
  const found: ServiceStatus[] = [];
  let unit: string | undefined;
  for (const line of lines) {
    const text = line.trim();
    const header = SYSTEMD_UNIT.exec(text);
    if (header && !text.startsWith('Loaded:')) {
      unit = header[1]!;
      continue;
    }
    const active = SYSTEMD_ACTIVE.exec(text);
    if (active && unit) {
      found.push({
        service: normalizeServiceName(unit),
        name: `${unit}.service`,
        state: systemdState(active[1]!, active[2]),
        source: 'systemd',
        detail: text.slice('Active:'.length).trim(),
        raw: cite(line),
      });
      unit = undefined;
    }
  }
  return found;
}

/**
 * Service states from `supervisorctl status`, `systemctl status`, `docker ps -a`, `docker inspect`
 * and the runbook's own `process <name> <running|not running>` lines, in the order they appear.
 */
export function parseServiceStatus(text: unknown): ServiceStatus[] {
  const lines = splitLines(text);
  const found: ServiceStatus[] = [];
  for (const line of lines) {
    const processLine = PROCESS_LINE.exec(line.trim());
    if (processLine) {
      found.push({
        service: normalizeServiceName(processLine[1]!),
        name: processLine[1]!,
        state: processLine[2] === 'running' ? 'running' : 'stopped',
        source: 'process',
        raw: cite(line),
      });
      continue;
    }
    const supervisor = supervisorLine(line);
    if (supervisor) {
      found.push(supervisor);
      continue;
    }
    const docker = dockerPsLine(line);
    if (docker) found.push(docker);
  }
  return [...found, ...systemd(lines), ...dockerInspect(lines)];
}
