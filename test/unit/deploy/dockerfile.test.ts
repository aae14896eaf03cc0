// deploy/Dockerfile cannot be built here (no Docker engine). What can be checked is checked: a real
// Dockerfile linter (dockerfile-utils, the validator behind VS Code's Docker support) reports nothing,
// the build context holds every file the COPY lines name, the stages have the shape the issue asks for,
// and the HEALTHCHECK command passes against a healthy /healthz and fails otherwise when run with node.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { closedPort, healthServer, runHealthcheck } from './healthcheck.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const DOCKERFILE = path.join(ROOT, 'deploy/Dockerfile');
const text = readFileSync(DOCKERFILE, 'utf8');

/** Every optional check of the linter turned on as an error. */
const STRICT = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

interface Stage {
  name: string | null;
  image: string;
  instructions: Instruction[];
}

function stages(content: string): Stage[] {
  const result: Stage[] = [];
  for (const instruction of DockerfileParser.parse(content).getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const args = instruction.getArguments().map((arg) => arg.getValue());
      const asAt = args.findIndex((arg) => arg.toUpperCase() === 'AS');
      result.push({ name: asAt >= 0 ? args[asAt + 1]! : null, image: args[0]!, instructions: [] });
    } else {
      result.at(-1)?.instructions.push(instruction);
    }
  }
  return result;
}

const argsOf = (instruction: Instruction) => instruction.getArguments().map((arg) => arg.getValue());
const of = (stage: Stage, keyword: string) => stage.instructions.filter((instruction) => instruction.getKeyword() === keyword);
/** The value of COPY's --from flag, if any. */
const fromFlag = (copy: Instruction) =>
  (copy as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] }).getFlags().find((flag) => flag.getName() === 'from')?.getValue() ?? undefined;
const jsonOf = (instruction: Instruction) => JSON.parse(instruction.getArgumentsContent() ?? '') as string[];

/** The exec-form command of a HEALTHCHECK (`HEALTHCHECK [--options] CMD [...]`). */
function healthcheckArgv(instruction: Instruction): string[] {
  const content = instruction.getArgumentsContent() ?? '';
  const cmd = /\bCMD\s+(\[.*\])\s*$/s.exec(content);
  if (!cmd) throw new Error(`HEALTHCHECK is not in exec form: ${content}`);
  return JSON.parse(cmd[1]!) as string[];
}

/**
 * Docker's .dockerignore rule for the patterns used here: the last matching pattern wins, `!` re-admits,
 * a pattern matches a path or any folder above it, `*` matches within one path segment.
 */
function admitted(file: string, patterns: string[]): boolean {
  const toRegex = (pattern: string) =>
    new RegExp(`^${pattern.replace(/\/$/, '').replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(?:/.*)?$`);
  let included = true;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = negate ? raw.slice(1) : raw;
    if (toRegex(pattern).test(file)) included = negate;
  }
  return included;
}

describe('deploy/Dockerfile', () => {
  const all = stages(text);
  const runtime = all.at(-1)!;

  it('passes the dockerfile-utils linter with every optional check as an error', () => {
    expect(validate(text, STRICT).map((d) => `${d.range.start.line + 1}: ${String(d.message)}`)).toEqual([]);
  });

  it('the linter is live: it flags a broken copy of the file', () => {
    // A misspelt instruction and a second CMD: proves the check above can fail.
    const broken = `${text.replace('USER node', 'USR node')}\nCMD ["worker"]\n`;
    const messages = validate(broken, STRICT).map((d) => String(d.message));
    expect(messages.some((m) => /Unknown instruction: USR/.test(m))).toBe(true);
    expect(messages.some((m) => /CMD/.test(m))).toBe(true);
  });

  it('builds in stages from node:20-bookworm-slim and ends in a runtime stage', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const stage of all) expect(stage.image).toBe('node:20-bookworm-slim');
    expect(runtime.name).toBe('runtime');
    const build = all.find((stage) => stage.name === 'build')!;
    const buildRuns = of(build, 'RUN').map((i) => i.getArgumentsContent()).join('\n');
    expect(buildRuns).toMatch(/npm install\b/);
    expect(buildRuns).toMatch(/npm run build/);
  });

  it('never uses npm ci (the lock misses optional platform packages; deploy/install-deps.sh)', () => {
    for (const stage of all) for (const run of of(stage, 'RUN')) expect(run.getArgumentsContent()).not.toMatch(/npm\s+ci\b/);
  });

  it('gives the runtime only production dependencies, dist, bin and the runbooks', () => {
    const copies = of(runtime, 'COPY').map((copy) => ({ from: fromFlag(copy), args: argsOf(copy).filter((a) => !a.startsWith('--')) }));
    const sources = copies.map((copy) => `${copy.from ?? 'context'}:${copy.args[0]}`);
    expect(sources).toContain('build:/app/dist');
    expect(sources).toContain('context:runbooks');
    expect(sources).toContain('context:bin');
    const depsCopy = copies.find((copy) => copy.args[0] === '/app/node_modules')!;
    const depsStage = all.find((stage) => stage.name === depsCopy.from)!;
    const depsRuns = of(depsStage, 'RUN').map((i) => i.getArgumentsContent()).join('\n');
    expect(depsRuns).toMatch(/npm install\b[^\n]*--omit=dev/);
    // Nothing copied from the build stage but the compiled code: no dev dependencies leak in.
    expect(copies.filter((copy) => copy.from === 'build').map((copy) => copy.args[0])).toEqual(['/app/dist']);
  });

  it('installs openssh-client in the runtime stage and cleans the apt lists', () => {
    const runs = of(runtime, 'RUN').map((i) => i.getArgumentsContent()).join('\n');
    expect(runs).toMatch(/apt-get install[^\n]*--no-install-recommends[\s\S]*openssh-client/);
    expect(runs).toMatch(/rm -rf \/var\/lib\/apt\/lists/);
  });

  it('runs as a non-root user, the last USER of the runtime stage', () => {
    const users = of(runtime, 'USER').map((i) => argsOf(i)[0]);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:.*)?$/);
  });

  it('starts `node bin/oo.js serve` in exec form', () => {
    expect(of(runtime, 'ENTRYPOINT').map(jsonOf)).toEqual([['node', 'bin/oo.js']]);
    expect(of(runtime, 'CMD').map(jsonOf)).toEqual([['serve']]);
  });

  it('every file a COPY takes from the context exists and passes Dockerfile.dockerignore', () => {
    const ignore = readFileSync(path.join(ROOT, 'deploy/Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    const fromContext = all.flatMap((stage) =>
      of(stage, 'COPY')
        .filter((copy) => fromFlag(copy) === undefined)
        .flatMap((copy) => argsOf(copy).filter((a) => !a.startsWith('--')).slice(0, -1)),
    );
    expect(fromContext.length).toBeGreaterThan(4);
    for (const source of fromContext) {
      expect(existsSync(path.join(ROOT, source)), source).toBe(true);
      expect(admitted(source, ignore), `${source} is excluded by Dockerfile.dockerignore`).toBe(true);
    }
    // And what must stay out of the image's context does.
    for (const secretish of ['node_modules', 'dist', 'test', '.git', 'deploy/oo.env']) expect(admitted(secretish, ignore), secretish).toBe(false);
  });

  describe('HEALTHCHECK', () => {
    const checks = of(runtime, 'HEALTHCHECK');
    const argv = healthcheckArgv(checks[0]!);

    it('is one exec-form node command asking /healthz with fetch, no curl or wget', () => {
      expect(checks).toHaveLength(1);
      expect(argv[0]).toBe('node');
      expect(argv.join(' ')).toMatch(/fetch\(/);
      expect(argv.join(' ')).not.toMatch(/\b(curl|wget)\b/);
    });

    it('exits 0 when /healthz answers 200 on PORT', async () => {
      const server = await healthServer(200);
      try {
        expect(await runHealthcheck(argv, server.port)).toBe(0);
        expect(server.seen).toEqual(['/healthz']);
      } finally {
        await server.close();
      }
    });

    it('exits 1 when /healthz answers 503 or nothing listens', async () => {
      const server = await healthServer(503);
      try {
        expect(await runHealthcheck(argv, server.port)).toBe(1);
      } finally {
        await server.close();
      }
      expect(await runHealthcheck(argv, await closedPort())).toBe(1);
    });
  });
});
