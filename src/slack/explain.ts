// `/oo explain` and the "Explain this 502" shortcut: classify text someone pasted or wrote, no SSH.
// Every parser reads every evidence key, so pasted text of any kind goes in as `other`.
import { classify } from '../diagnosis/classify.js';
import { rankWithRemediations, type DiagnosisRunbook } from '../diagnosis/diagnose.js';
import type { Finding } from '../diagnosis/types.js';
import { redactSecrets } from '../security/redact.js';
import { renderDiagnosis, type RenderedMessage } from './blocks.js';

export function explainText(text: string, runbook: Pick<DiagnosisRunbook, 'remediationsFor'>, label = 'pasted text'): Finding {
  const classification = classify({ other: redactSecrets(text) });
  return { host: label, verdict: classification.verdict, causes: rankWithRemediations(classification.causes, runbook), steps: [] };
}

/** The findings of pasted text, without buttons: nothing runs from an explanation. */
export function renderExplanation(finding: Finding): RenderedMessage {
  const message = renderDiagnosis(finding);
  if (finding.verdict === 'healthy' && finding.causes.length === 0) {
    const note = {
      type: 'context' as const,
      elements: [{ type: 'mrkdwn' as const, text: 'No known 502 cause in this text. Paste nginx error-log lines, `supervisorctl status`, `ss -ltnp` or service logs.' }],
    };
    return { ...message, blocks: [...message.blocks, note] };
  }
  return message;
}
