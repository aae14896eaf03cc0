import type { CauseId, EvidenceKey, InstallKind, Risk, Verdict } from './vocabulary.js';

/** Raw text per evidence key, exactly what the steps printed (after redaction). Any key may be missing. */
export type Evidence = Partial<Record<EvidenceKey, string>> & { install?: InstallKind };

/** One line of evidence that a cause cites: the step it came from and the line as printed. */
export interface EvidenceLine {
  step: EvidenceKey;
  line: string;
}

/** A cause as the classifier names it, before remediations are attached. */
export interface Cause {
  id: CauseId;
  title: string;
  /** 0..1; causes are ranked by it, highest first. */
  confidence: number;
  evidence: EvidenceLine[];
  /**
   * What the cause is about, when that decides the fix: the service (`docservice`, `converter`,
   * `example`, `nginx`) or the dependency (`postgres`, `rabbitmq`, `redis`).
   */
  subject?: string;
}

/** The part of a remediation the findings show: the contract's `{id, title, risk}`. */
export interface RemediationRef {
  id: string;
  title: string;
  risk: Risk;
}

export interface RankedCause extends Cause {
  remediations: RemediationRef[];
}

/** One step as it ran on a host: the contract's `steps[]` entry. */
export interface StepRecord {
  id: EvidenceKey | string;
  command: string;
  exitCode: number | null;
  durationMs: number;
  /** Redacted and capped. */
  output: string;
  timedOut?: boolean;
  truncated?: boolean;
}

/** The contract's per-host JSON object. */
export interface Finding {
  host: string;
  verdict: Verdict;
  causes: RankedCause[];
  steps: StepRecord[];
  /** Why the verdict is `unreachable` or `unknown`, when it is. */
  error?: string;
}

/** What the classifier returns: a verdict and the causes, most likely first. */
export interface Classification {
  verdict: Exclude<Verdict, 'unreachable'> | 'unreachable';
  causes: Cause[];
}
