import { HttpErrorResponse, HttpStatusCode } from '@angular/common/http';
import type { AbstractControl, ValidationErrors, ValidatorFn } from '@angular/forms';
import type { ApiError } from '@iot/protocol';
import type * as z from 'zod';

/** The error key schema validators and the api's answers set on a control; its value is the sentence to show. */
export const SCHEMA_ERROR = 'schema';

/** A sentence from a message: capitalised, with a full stop. */
function sentence(message: string): string {
  const text = message.trim();
  if (!text) return 'Invalid value.';
  const capitalised = text[0].toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}

/**
 * A zod issue in words for a form field. The protocol's schemas carry their
 * own messages for patterns (device ids, label keys); zod's generic length
 * messages ("Too small: expected string to have >=1 characters") are
 * rephrased.
 */
export function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_small':
      return issue.origin === 'string' && Number(issue.minimum) <= 1
        ? 'Required.'
        : issue.origin === 'string'
          ? `At least ${issue.minimum} characters.`
          : sentence(issue.message);
    case 'too_big':
      return issue.origin === 'string' ? `At most ${issue.maximum} characters.` : sentence(issue.message);
    case 'invalid_key':
    case 'invalid_element':
      return issue.issues[0] ? describeIssue(issue.issues[0]) : sentence(issue.message);
    default:
      return sentence(issue.message);
  }
}

/**
 * A validator that runs a protocol schema, so the form checks exactly what
 * the api will. `prepare` turns the control's value into what is sent (a
 * blank optional field is left out, so it is checked as `undefined`).
 */
export function schemaValidator<T>(schema: z.ZodType, prepare?: (value: T) => unknown): ValidatorFn {
  return (control: AbstractControl<T>): ValidationErrors | null => {
    const result = schema.safeParse(prepare ? prepare(control.value) : control.value);
    return result.success ? null : { [SCHEMA_ERROR]: describeIssue(result.error.issues[0]) };
  };
}

/** A blank optional text field is left out of the request. */
export function blankToUndefined(value: string): string | undefined {
  return value.trim() === '' ? undefined : value;
}

/** The message a control's schema or server error carries, or null. */
export function schemaError(control: AbstractControl): string | null {
  const error: unknown = control.errors?.[SCHEMA_ERROR];
  return typeof error === 'string' ? error : null;
}

/**
 * A 400's message split by field. The api names the field of each problem as
 * `path: message` and joins several with `; ` (apps/api http-error.filter.ts);
 * a problem is filed under the first segment of its path, or `''` without one.
 */
export function apiFieldErrors(error: unknown): Map<string, string> | null {
  if (!(error instanceof HttpErrorResponse) || error.status !== HttpStatusCode.BadRequest) return null;
  const body = error.error as Partial<ApiError> | null;
  const message = typeof body?.message === 'string' ? body.message : '';
  const fields = new Map<string, string>();
  for (const part of message.split('; ').filter((p) => p.trim() !== '')) {
    // `labels.some key: …` is filed under `labels`.
    const match = /^([A-Za-z]\w*)(?:\.[^:]*)?: (.+)$/s.exec(part);
    const [field, text] = match ? [match[1], match[2]] : ['', part];
    if (!fields.has(field)) fields.set(field, sentence(text));
  }
  return fields;
}
