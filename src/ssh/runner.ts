/**
 * The one interface between the engine and a host: run a fixed command, get its output back.
 * SSH implements it; tests and `oo classify` never need it. Commands handed to `run` are already
 * rendered from fixed runbook templates: nothing a user, an alert or a host wrote is in them.
 */
export interface RunOptions {
  /** Wall-clock limit; on expiry the channel is closed and `timedOut` is set. */
  timeoutMs: number;
  /** stdout and stderr together are cut at this many bytes; `truncated` says so. */
  maxOutputBytes: number;
  /** Bytes written to the command's standard input, then closed: how file contents travel, never in argv. */
  stdin?: string;
}

export interface CommandResult {
  exitCode: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  truncated: boolean;
}

export interface CommandRunner {
  run(command: string, options: RunOptions): Promise<CommandResult>;
}
