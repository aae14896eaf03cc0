import { describe, expect, it } from 'vitest';
import {
  diagnosisDedupId,
  diagnosisJobId,
  InvalidJobDataError,
  parseDiagnosisJob,
  parseRemediationJob,
  remediationJobId,
} from '../../../src/queue/jobs.js';
import { assertPrefix, keyspace } from '../../../src/queue/keys.js';
import { clientOptions } from '../../../src/queue/redis.js';
import { isActionId } from '../../../src/remediation/actions.js';

const diagnosis = {
  requestId: 'req-1',
  incidentKey: 'inc_0123abcd',
  host: 'docs-1',
  requestedBy: 'U0ABC',
  reason: 'nginx answers 502',
};
const remediation = {
  requestId: 'req-2',
  actionId: 'AAAAAAAAAAAAAAAAAAAAAQ',
  host: 'docs-1',
  remediationId: 'restart_docservice',
  approvedBy: ['U0ABC'],
};

describe('job data', () => {
  it('accepts well-formed jobs', () => {
    expect(parseDiagnosisJob(diagnosis)).toEqual(diagnosis);
    expect(parseRemediationJob(remediation)).toEqual(remediation);
  });

  it('names the bad field', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => parseDiagnosisJob({ ...diagnosis, host: '$(reboot)' }), /host: host must be an inventory host name/],
      [() => parseDiagnosisJob({ ...diagnosis, requestId: 'a:b' }), /requestId/],
      [() => parseDiagnosisJob({ ...diagnosis, reason: 'bell\u0007' }), /reason must not contain control characters/],
      [() => parseDiagnosisJob({ ...diagnosis, extra: true }), /extra/],
      [() => parseDiagnosisJob({ ...diagnosis, requestedBy: '' }), /requestedBy/],
      [() => parseRemediationJob({ ...remediation, actionId: 'AAAAAAAAAAAAAAAAAAAAAB' }), /actionId/],
      [() => parseRemediationJob({ ...remediation, approvedBy: [] }), /approvedBy needs at least one approver/],
      [() => parseRemediationJob({ ...remediation, remediationId: '../x' }), /remediationId/],
    ];
    for (const [parse, message] of cases) {
      expect(parse).toThrow(InvalidJobDataError);
      expect(parse).toThrow(message);
    }
  });

  it('makes job ids BullMQ honours (no ":", never all digits)', () => {
    for (const id of [diagnosisJobId('123'), remediationJobId('456'), diagnosisJobId('req-1')]) {
      expect(id).not.toContain(':');
      expect(id).not.toMatch(/^\d+$/);
    }
  });

  it('gives a verification its own deduplication slot', () => {
    expect(diagnosisDedupId(diagnosis)).toBe('incident_inc_0123abcd');
    expect(diagnosisDedupId({ ...diagnosis, verifiesAction: remediation.actionId })).toBe(`verify_${remediation.actionId}`);
  });
});

describe('keyspace', () => {
  it('keeps BullMQ keys apart from state keys', () => {
    const keys = keyspace('oo');
    expect(keys.bullPrefix).toBe('oo:q');
    expect(keys.remediation('X')).toBe('oo:remediation:X');
    expect(keys.hostLock('docs-1')).toBe('oo:hostlock:docs-1');
  });

  it('supports a Redis Cluster hash tag, so every key maps to one slot', () => {
    const keys = keyspace('{oo}');
    const all = [keys.bullPrefix, keys.hostLock('docs-1'), keys.action('X'), keys.audit, keys.incident('inc_1')];
    for (const key of all) expect(key.startsWith('{oo}')).toBe(true);
  });

  it('refuses prefixes and hosts that would break keys', () => {
    for (const bad of ['', 'a b', '{oo', 'oo}', 'a:b', '{}', 'x'.repeat(65)]) expect(() => assertPrefix(bad)).toThrow(/key prefix/);
    expect(() => keyspace().hostLock('a b')).toThrow(/invalid host/);
    expect(() => keyspace().hostLock('*')).toThrow(/invalid host/);
  });
});

describe('clientOptions', () => {
  it('makes producers fail fast and workers wait, whatever else was passed', () => {
    const producer = clientOptions('producer', { enableOfflineQueue: true, password: 'p' });
    expect(producer.enableOfflineQueue).toBe(false);
    expect(producer.password).toBe('p');
    const worker = clientOptions('worker', { maxRetriesPerRequest: 3 });
    expect(worker.maxRetriesPerRequest).toBeNull();
  });
});

describe('isActionId', () => {
  it('accepts only what randomBytes(16).toString("base64url") makes', () => {
    expect(isActionId('AAAAAAAAAAAAAAAAAAAAAQ')).toBe(true);
    expect(isActionId('AAAAAAAAAAAAAAAAAAAAAB')).toBe(false);
    expect(isActionId('AAAAAAAAAAAAAAAAAAAA=Q')).toBe(false);
    expect(isActionId(42)).toBe(false);
  });
});
