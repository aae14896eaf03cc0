export type { CommandResult, CommandRunner, RunOptions } from './runner.js';
export type { SshTarget } from './target.js';
export { validateTarget, describeTarget } from './target.js';
export { SshError, SSH_ERROR_REASONS, isSshError, type SshErrorReason } from './errors.js';
export { SshConnection, connectSsh, type SshConnectOptions } from './connection.js';
export { SshPool, type SshPoolOptions } from './pool.js';
export { mapLimit } from './limit.js';
export {
  parseKnownHosts,
  parsePublicKeyLine,
  fingerprintSha256,
  verifyHostKey,
  type KnownHostsEntry,
  type ParsedKnownHosts,
  type HostKeyVerdict,
} from './known-hosts.js';
