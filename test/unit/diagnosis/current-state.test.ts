import { describe, expect, it } from 'vitest';
import { classify } from '../../../src/diagnosis/classify.js';
import { fixture, fixtureLines } from './fixtures.js';

// Logs keep history; probes and the process manager tell the present. These cases come from the lab:
// a fix works, yet the error log still holds the lines from before it.
const refusedLines = fixtureLines('nginx_error_log/documentserver-1598-refused-8000.log', 'Connection refused');
const running = fixture('service_status/documentserver-674-supervisorctl-running.txt');
const probesOk = [
  'probe docservice http://127.0.0.1:8000/healthcheck 200 0.004',
  'probe nginx http://127.0.0.1/healthcheck 200 0.006',
].join('\n');

describe('current state outweighs log history', () => {
  it('does not call docservice down when it runs and answers, whatever old refusals the log holds', () => {
    const result = classify({ nginx_error_log: refusedLines, service_status: running, http_probe: probesOk });
    expect(result.causes.map((cause) => cause.id)).not.toContain('backend_down');
    expect(result.verdict).toBe('healthy');
  });

  it('still calls it down when the same log lines come with a failing healthcheck', () => {
    const failing = 'probe docservice http://127.0.0.1:8000/healthcheck 000 0.001 curl: (7) Failed to connect to 127.0.0.1 port 8000';
    const result = classify({ nginx_error_log: refusedLines, http_probe: failing });
    expect(result.causes[0]?.id).toBe('backend_down');
  });

  it('reads a 504 from nginx as the upstream timing out, with or without the log', () => {
    const probes = 'probe nginx http://127.0.0.1/healthcheck 504 2.003';
    const result = classify({ http_probe: probes });
    expect(result.causes[0]).toMatchObject({ id: 'upstream_timeout', evidence: [{ step: 'http_probe', line: probes }] });
    const withLog = classify({
      http_probe: probes,
      nginx_error_log: fixtureLines('nginx_error_log/onlyoffice-nextcloud-597-upstream-timeout.log', 'timed out'),
    });
    expect(withLog.causes[0]?.id).toBe('upstream_timeout');
    expect(withLog.causes[0]!.confidence).toBeGreaterThan(result.causes[0]!.confidence);
  });
});
