import { runCommand, type CommandOutcome } from '../../../src/lab/commands.js';
import type { LabHost } from '../../../src/lab/index.js';

/**
 * Runs `command` on a lab host through the real OpenSSH client, as an operator would: host-key
 * checking on against a known_hosts file, no agent, no user config, the lab's identity only.
 */
export function ssh(host: LabHost, knownHostsFile: string, command: string, timeoutMs = 30_000): Promise<CommandOutcome> {
  return runCommand(
    [
      'ssh',
      '-F',
      '/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${knownHostsFile}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'ConnectTimeout=5',
      '-o',
      'LogLevel=ERROR',
      '-i',
      host.identityFile,
      '-p',
      String(host.port),
      `${host.user}@${host.address}`,
      command,
    ],
    { timeoutMs },
  );
}
