import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { authorize, parsePolicy, PolicyConfigError, requiredApprovals, type AuthorizeInput } from '../../../src/remediation/policy.js';

const policy = parsePolicy(
  parseYaml(`
approvers:
  low: [U0LOW, S0ONCALL]
  medium: [U0MED, U0LEAD]
  high: [U0LEAD, U0CTO, W0GRID]
channels: [C0OPS, G0PRIVATE]
highRisk:
  secondApprover: true
  allowSelfApproval: false
`),
);

const click = (overrides: Partial<AuthorizeInput> = {}): AuthorizeInput => ({
  policy,
  risk: 'medium',
  clickerId: 'U0MED',
  clickerGroups: [],
  requesterId: 'U0REQ',
  priorApprovers: [],
  channelId: 'C0OPS',
  ...overrides,
});

describe('policy schema', () => {
  it('reads the oo.yaml section with defaults', () => {
    const minimal = parsePolicy({ approvers: { low: ['U0A'], high: ['U0A', 'U0B'] }, channels: ['C0OPS'] });
    expect(minimal.approvers.medium).toEqual([]);
    expect(minimal.highRisk).toEqual({ secondApprover: true, allowSelfApproval: false });
  });

  it('names the field that is wrong', () => {
    const cases: [unknown, RegExp][] = [
      [{ approvers: { low: ['alice'] }, channels: ['C0OPS'], highRisk: { secondApprover: false } }, /policy\.approvers\.low\.0: must be a Slack user id/],
      [{ approvers: {}, channels: [], highRisk: { secondApprover: false } }, /policy\.channels: name at least one channel/],
      [{ approvers: {}, channels: ['#ops'], highRisk: { secondApprover: false } }, /policy\.channels\.0: must be a Slack channel id/],
      [{ approvers: { high: ['U0ONLY'] }, channels: ['C0OPS'] }, /policy\.approvers\.high: highRisk\.secondApprover needs at least two/],
      [{ approvers: {}, channels: ['C0OPS'], extra: 1 }, /policy: .*extra/i],
      [{ approvers: {}, channels: ['C0OPS'], highRisk: { secondApprover: 'yes' } }, /policy\.highRisk\.secondApprover/],
    ];
    for (const [input, message] of cases) {
      expect(() => parsePolicy(input)).toThrow(PolicyConfigError);
      expect(() => parsePolicy(input)).toThrow(message);
    }
  });

  it('accepts a single high-risk approver when the group may supply the second', () => {
    expect(() => parsePolicy({ approvers: { high: ['S0SRE'] }, channels: ['C0OPS'] })).not.toThrow();
  });
});

describe('authorize', () => {
  it('allows an approver in an allowed channel', () => {
    expect(authorize(click())).toEqual({ allowed: true, needsMore: 0 });
    expect(authorize(click({ channelId: 'G0PRIVATE' }))).toEqual({ allowed: true, needsMore: 0 });
  });

  it('allows through a user group', () => {
    expect(authorize(click({ risk: 'low', clickerId: 'U0SOMEONE', clickerGroups: ['S0ONCALL'] }))).toEqual({
      allowed: true,
      needsMore: 0,
    });
  });

  it('refuses a channel the bot does not act in', () => {
    expect(authorize(click({ channelId: 'C0RANDOM' }))).toMatchObject({ allowed: false, code: 'channel_not_allowed' });
    expect(authorize(click({ channelId: 'D0DM' }))).toMatchObject({ allowed: false, code: 'channel_not_allowed' });
  });

  it('refuses someone who is not an approver for this risk', () => {
    const refused = authorize(click({ clickerId: 'U0LOW' }));
    expect(refused).toMatchObject({ allowed: false, code: 'not_an_approver' });
    expect(refused.allowed === false && refused.reason).toMatch(/not an approver for medium-risk/);
    // Lists are per risk: a high-risk approver is not automatically a low-risk one.
    expect(authorize(click({ risk: 'low', clickerId: 'U0CTO' }))).toMatchObject({ code: 'not_an_approver' });
    // A group the clicker is in, but not one listed for this risk.
    expect(authorize(click({ clickerId: 'U0X', clickerGroups: ['S0ONCALL'] }))).toMatchObject({ code: 'not_an_approver' });
    // A user id passed off as a group does not count.
    expect(authorize(click({ clickerId: 'U0X', clickerGroups: ['U0MED'] }))).toMatchObject({ code: 'not_an_approver' });
  });

  it('refuses self-approval of a high-risk remediation', () => {
    expect(authorize(click({ risk: 'high', clickerId: 'U0LEAD', requesterId: 'U0LEAD' }))).toMatchObject({
      allowed: false,
      code: 'self_approval',
    });
    // Allowed for lower risks, and for high risk when the policy says so.
    expect(authorize(click({ clickerId: 'U0MED', requesterId: 'U0MED' }))).toEqual({ allowed: true, needsMore: 0 });
    const lenient = { ...policy, highRisk: { secondApprover: true, allowSelfApproval: true } };
    expect(authorize(click({ policy: lenient, risk: 'high', clickerId: 'U0LEAD', requesterId: 'U0LEAD' }))).toEqual({
      allowed: true,
      needsMore: 1,
    });
  });

  it('refuses a second approval by the same person', () => {
    expect(authorize(click({ risk: 'high', clickerId: 'U0LEAD', priorApprovers: ['U0LEAD'] }))).toMatchObject({
      allowed: false,
      code: 'already_approved',
    });
  });

  it('counts the approvals a high-risk remediation still needs', () => {
    expect(requiredApprovals(policy, 'high')).toBe(2);
    expect(requiredApprovals(policy, 'low')).toBe(1);
    expect(authorize(click({ risk: 'high', clickerId: 'U0LEAD' }))).toEqual({ allowed: true, needsMore: 1 });
    expect(authorize(click({ risk: 'high', clickerId: 'W0GRID', priorApprovers: ['U0LEAD'] }))).toEqual({
      allowed: true,
      needsMore: 0,
    });
    const single = { ...policy, highRisk: { secondApprover: false, allowSelfApproval: false } };
    expect(requiredApprovals(single, 'high')).toBe(1);
    expect(authorize(click({ policy: single, risk: 'high', clickerId: 'U0CTO' }))).toEqual({ allowed: true, needsMore: 0 });
  });

  it('checks the channel before anything else', () => {
    expect(authorize(click({ channelId: 'C0OTHER', clickerId: 'U0NOBODY' }))).toMatchObject({ code: 'channel_not_allowed' });
  });

  it('throws on a risk it does not know', () => {
    expect(() => authorize(click({ risk: 'extreme' as never }))).toThrow(/unknown risk/);
  });
});
