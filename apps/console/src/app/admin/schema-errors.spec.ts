import { HttpErrorResponse } from '@angular/common/http';
import { FormControl } from '@angular/forms';
import { createDeviceSchema } from '@iot/protocol';
import { apiFieldErrors, blankToUndefined, schemaError, schemaValidator } from './schema-errors';

describe('schemaValidator', () => {
  const { shape } = createDeviceSchema;
  const check = (validator: ReturnType<typeof schemaValidator>, value: string) =>
    schemaError(new FormControl(value, { nonNullable: true, validators: validator }));

  it('uses the protocol schema and its own message for a pattern', () => {
    const id = schemaValidator(shape.id, blankToUndefined);
    expect(check(id, 'boiler-1')).toBeNull();
    expect(check(id, '')).toBeNull();
    expect(check(id, '-boiler')).toBe('Device ids are 1-64 letters, digits, _ or -, starting with a letter or digit.');
    expect(check(id, 'a'.repeat(65))).toMatch(/^Device ids are 1-64/);
  });

  it('says what a length rule means instead of zod’s generic wording', () => {
    const name = schemaValidator(shape.name);
    expect(check(name, '   ')).toBe('Required.');
    expect(check(name, 'x'.repeat(129))).toBe('At most 128 characters.');
    expect(check(name, ' Boiler ')).toBeNull();
  });

  it('reads the message inside a record key issue', () => {
    const key = schemaValidator(shape.labels, (k: string) => ({ [k]: '' }));
    expect(check(key, 'site')).toBeNull();
    expect(check(key, 'bad key')).toBe('Label keys are 1-63 of A-Z a-z 0-9 _ . / -.');
  });
});

describe('apiFieldErrors', () => {
  const badRequest = (message: string) =>
    new HttpErrorResponse({ status: 400, error: { statusCode: 400, error: 'Bad Request', message } });

  it('splits a 400 message by the field each problem names', () => {
    const fields = apiFieldErrors(
      badRequest('id: device ids are 1-64 letters; labels.a b: Invalid key in record; too many'),
    );
    expect([...(fields ?? [])]).toEqual([
      ['id', 'Device ids are 1-64 letters.'],
      ['labels', 'Invalid key in record.'],
      ['', 'Too many.'],
    ]);
  });

  it('is null for anything but a 400', () => {
    expect(apiFieldErrors(new HttpErrorResponse({ status: 409, error: { message: 'id: exists' } }))).toBeNull();
    expect(apiFieldErrors(new Error('id: boom'))).toBeNull();
  });
});
