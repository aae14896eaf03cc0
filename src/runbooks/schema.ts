// The schema of runbooks/*.yaml: diagnosis steps keyed by the contract's evidence keys, remediations
// keyed by the cause ids they fix. Every command is a template (see template.ts), checked at load time.
import { z } from 'zod';
import { CAUSE_IDS, EVIDENCE_KEYS, PROCESS_MANAGERS, RISKS } from '../diagnosis/vocabulary.js';
import { templateProblems } from './template.js';

const ID_PATTERN = /^[a-z][a-z0-9_-]*$/;
const identifier = z.string().regex(ID_PATTERN, { message: 'ids are lower case: letters, digits, "_" and "-"' });

const commandTemplate = z
  .string()
  .refine((text) => text.trim().length > 0, { message: 'must not be empty' })
  .superRefine((text, ctx) => {
    for (const problem of templateProblems(text)) ctx.addIssue({ code: 'custom', message: problem });
  });

/** Steps must run under every process manager: a map has to name all three. */
const stepCommand = z.union([
  commandTemplate,
  z.strictObject({ systemd: commandTemplate, supervisor: commandTemplate, docker: commandTemplate }),
]);

/** A remediation may apply to some managers only (setsebool means nothing inside a container). */
const remediationCommand = z.union([
  commandTemplate,
  z
    .strictObject({
      systemd: commandTemplate.optional(),
      supervisor: commandTemplate.optional(),
      docker: commandTemplate.optional(),
    })
    .refine((map) => Object.keys(map).length > 0, { message: 'name at least one of systemd, supervisor, docker' }),
]);

const timeoutMs = z.number().int().min(100).max(600_000);

export const stepSchema = z.strictObject({
  id: z.enum(EVIDENCE_KEYS),
  title: z.string().min(1),
  timeoutMs: timeoutMs.default(30_000),
  maxOutputBytes: z.number().int().min(256).max(8 * 1024 * 1024).default(64 * 1024),
  /** Needs root: wrapped in `sudo -n sh -c '…'` on hosts configured with `sudo: true`. */
  sudo: z.boolean().default(false),
  command: stepCommand,
});

export const detectSchema = z.strictObject({
  /** Prints `manager=<systemd|supervisor|docker|unknown>` and `install=<deb|rpm|docker|unknown>`. */
  command: commandTemplate,
  timeoutMs: timeoutMs.default(15_000),
  maxOutputBytes: z.number().int().min(256).max(1024 * 1024).default(4096),
  sudo: z.boolean().default(false),
});

export const fixSchema = z.strictObject({
  cause: z.enum(CAUSE_IDS),
  /** The cause's subject this fix is for (`docservice`, `converter`, `postgres`, …); absent: any. */
  subject: identifier.optional(),
});

export const remediationSchema = z.strictObject({
  id: identifier,
  title: z.string().min(1),
  description: z.string().optional(),
  risk: z.enum(RISKS),
  fixes: z.array(fixSchema).min(1),
  /** Must exit 0 before the command runs (e.g. `nginx -t`). */
  precheck: remediationCommand.optional(),
  command: remediationCommand,
  /** Fixed file content written to the command's standard input (e.g. a drop-in); never user data. */
  stdin: z.string().max(64 * 1024).optional(),
  rollback: remediationCommand.optional(),
  verify: z.strictObject({
    steps: z.array(z.enum(EVIDENCE_KEYS)).min(1),
    /** How long verification may take in all; defaults to the sum of the steps' timeouts. */
    timeoutMs: timeoutMs.optional(),
  }),
  /** Applies to the precheck, the command and the rollback alike. */
  timeoutMs: timeoutMs.default(120_000),
  maxOutputBytes: z.number().int().min(256).max(1024 * 1024).default(64 * 1024),
  /** Changing a host needs root: wrapped in sudo on hosts configured with `sudo: true`. */
  sudo: z.boolean().default(true),
});

const managerKeys = (command: z.output<typeof remediationCommand>): string[] =>
  typeof command === 'string' ? [...PROCESS_MANAGERS] : Object.keys(command);

export const runbookSchema = z
  .strictObject({
    id: identifier,
    title: z.string().min(1),
    description: z.string().min(1),
    detect: detectSchema,
    steps: z.array(stepSchema).min(1),
    remediations: z.array(remediationSchema).default([]),
  })
  .superRefine((runbook, ctx) => {
    const stepIds = new Set<string>();
    runbook.steps.forEach((step, index) => {
      if (stepIds.has(step.id)) {
        ctx.addIssue({ code: 'custom', path: ['steps', index, 'id'], message: `step "${step.id}" appears twice` });
      }
      stepIds.add(step.id);
    });
    const remediationIds = new Set<string>();
    runbook.remediations.forEach((remediation, index) => {
      if (remediationIds.has(remediation.id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['remediations', index, 'id'],
          message: `remediation "${remediation.id}" appears twice`,
        });
      }
      remediationIds.add(remediation.id);
      remediation.verify.steps.forEach((stepId, stepIndex) => {
        if (!stepIds.has(stepId)) {
          ctx.addIssue({
            code: 'custom',
            path: ['remediations', index, 'verify', 'steps', stepIndex],
            message: `no step "${stepId}" in this runbook`,
          });
        }
      });
      // A remediation that can change a host under some manager must be checkable and undoable there too.
      const covered = managerKeys(remediation.command);
      for (const part of ['precheck', 'rollback'] as const) {
        const command = remediation[part];
        if (command === undefined) continue;
        const missing = covered.filter((manager) => !managerKeys(command).includes(manager));
        if (missing.length > 0) {
          ctx.addIssue({
            code: 'custom',
            path: ['remediations', index, part],
            message: `has no command for ${missing.join(', ')}, which the remediation's command covers`,
          });
        }
      }
    });
  });

export type RunbookStep = z.output<typeof stepSchema>;
export type RunbookDetect = z.output<typeof detectSchema>;
export type RunbookRemediation = z.output<typeof remediationSchema>;
export type RunbookFix = z.output<typeof fixSchema>;
export type StepCommand = z.output<typeof stepCommand>;
export type RemediationCommand = z.output<typeof remediationCommand>;

export interface Runbook extends z.output<typeof runbookSchema> {
  /** The file it was loaded from. */
  file: string;
}
