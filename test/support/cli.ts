import { runCli } from '../../src/cli/main.js';

/** Runs the `oo` CLI in-process, feeding `stdin` and capturing what it prints, with colour off. */
export async function cli(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    readStdin: async () => stdin,
    color: false,
    width: 160,
  });
  return { code, stdout, stderr };
}
