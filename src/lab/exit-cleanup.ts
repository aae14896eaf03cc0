/**
 * Hosts still alive when the process ends are torn down on the way out, so a test that crashes or
 * forgets destroy() does not leave namespaces and daemons behind. Only synchronous work runs in an
 * 'exit' handler; for SIGINT/SIGTERM/SIGHUP the teardown runs and the signal is raised again so the
 * process still ends the way it would have. A SIGKILLed process leaves its hosts behind: their slot
 * locks then name a dead process, and the next lab (or `node dist/lab/cleanup.js`) reclaims them.
 */
import { rmSync } from 'node:fs';

import { teardownSync } from './namespace.js';
import { releaseSlot, type SlotNames } from './slots.js';

interface LiveHost {
  names: SlotNames;
  hostDir: string;
}

const liveHosts = new Map<string, LiveHost>();
/** Lab folders this process made (with the lab's private key): removed on the way out too. */
const ownedRoots = new Set<string>();
let installed = false;

function teardownAll(): void {
  for (const [key, host] of liveHosts) {
    try {
      teardownSync(host.names, host.hostDir);
      releaseSlot(host.names);
    } catch {
      // Best effort on the way out; what is left is reclaimed as stale later.
    }
    liveHosts.delete(key);
  }
  for (const root of ownedRoots) {
    try {
      rmSync(root, { recursive: true, force: true });
    } catch {
      // Left for cleanupStaleLabs, which removes lab folders of dead processes.
    }
    ownedRoots.delete(root);
  }
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', teardownAll);
  for (const signal of SIGNALS) {
    const handler = () => {
      teardownAll();
      // When nobody else handles the signal, re-raise it so the default action (ending) still happens.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, handler);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, handler);
  }
}

export function registerLiveHost(names: SlotNames, hostDir: string): void {
  install();
  liveHosts.set(names.namespace, { names, hostDir });
}

export function unregisterLiveHost(names: SlotNames): void {
  liveHosts.delete(names.namespace);
}

export function liveHostCount(): number {
  return liveHosts.size;
}

export function registerOwnedRoot(root: string): void {
  install();
  ownedRoots.add(root);
}

export function unregisterOwnedRoot(root: string): void {
  ownedRoots.delete(root);
}
