import type { DomainErrorCode } from '../../domain/errors';
import { type RefusableKind, noticeReason, parseCommandResult, parseReportedState } from './ingest.service';

const payload = (text: string) => Buffer.from(text, 'utf8');

describe('parseCommandResult', () => {
  it('takes a result of the result form', () => {
    expect(parseCommandResult(payload('{"status":"succeeded","result":{"on":true}}'))).toEqual({
      ok: true,
      value: { status: 'succeeded', result: { on: true } },
    });
  });

  it.each<[string, string, RegExp]>([
    ['{"status":', 'invalid_json', /^payload is not valid JSON$/],
    ['{"status":"done"}', 'invalid_command_result', /^status: /],
    ['[]', 'invalid_command_result', /^result: /],
    [`{"status":"failed","error":"${'e'.repeat(1025)}"}`, 'invalid_command_result', /^error: /],
  ])('refuses %j as %s', (text, reason, error) => {
    const parsed = parseCommandResult(payload(text));
    expect(parsed).toMatchObject({ ok: false, reason });
    expect(!parsed.ok && parsed.error).toMatch(error);
  });
});

describe('parseReportedState', () => {
  it('takes a JSON object as it was parsed, a "__proto__" key included, for the state service to refuse', () => {
    const parsed = parseReportedState(payload('{"a":1,"__proto__":{"polluted":true}}'));
    expect(parsed.ok).toBe(true);
    expect(parsed.ok && Object.keys(parsed.value)).toEqual(['a', '__proto__']);
  });

  it.each<[string, string]>([
    ['{"a":', 'invalid_json'],
    ['[1,2]', 'invalid_state'],
    ['null', 'invalid_state'],
    ['"on"', 'invalid_state'],
  ])('refuses %j as %s', (text, reason) => {
    expect(parseReportedState(payload(text))).toMatchObject({ ok: false, reason });
  });
});

describe('noticeReason', () => {
  /**
   * Each code's notice reason, by the message refused; undefined: not
   * acknowledged rather than refused. A Record, so a new code does not
   * compile until it is added here.
   */
  const expected: Record<DomainErrorCode, Record<RefusableKind, string | undefined>> = {
    not_found: { 'command.result': 'unknown_command', 'state.reported': 'unknown_device' },
    bad_request: { 'command.result': 'invalid_command_result', 'state.reported': 'invalid_state' },
    too_large: { 'command.result': 'payload_too_large', 'state.reported': 'state_too_large' },
    conflict: { 'command.result': undefined, 'state.reported': undefined },
    precondition_failed: { 'command.result': undefined, 'state.reported': undefined },
    unavailable: { 'command.result': undefined, 'state.reported': undefined },
  };
  const rows = Object.entries(expected).flatMap(([code, byKind]) =>
    Object.entries(byKind).map(
      ([kind, reason]): [RefusableKind, DomainErrorCode, string | undefined] => [
        kind as RefusableKind,
        code as DomainErrorCode,
        reason,
      ],
    ),
  );

  it.each(rows)('gives a %s refused with %s the reason %p', (kind, code, reason) => {
    expect(noticeReason(kind, code)).toBe(reason);
  });
});
