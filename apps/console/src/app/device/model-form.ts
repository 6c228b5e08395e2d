import { ChangeDetectionStrategy, Component, type Provider } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { FieldArrayType, FormlyField, type FormlyFieldConfig, provideFormlyCore } from '@ngx-formly/core';
import { FormlyJsonschema } from '@ngx-formly/core/json-schema';
import { withFormlyMaterial } from '@ngx-formly/material';
import { isJsonObject, type JsonObject, type ValueSchema } from '@iot/protocol';

/**
 * Forms generated from a model's JSON Schema subset by ngx-formly
 * (`@ngx-formly/core/json-schema`, rendered with Angular Material). Only
 * function expressions are used, never string ones: formly compiles those
 * with `Function`, which the console's Content-Security-Policy forbids.
 */

/** A list of values: one row per item, with add and remove. */
@Component({
  selector: 'iot-formly-array',
  imports: [FormlyField, MatButton],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <fieldset class="form-array">
      @if (props.label) {
        <legend>{{ props.label }}</legend>
      }
      @for (item of field.fieldGroup; track item; let i = $index) {
        <div class="form-array-item">
          <formly-field [field]="item" />
          <button mat-button type="button" (click)="remove(i)" [disabled]="atMin()">Remove</button>
        </div>
      }
      <button mat-stroked-button type="button" (click)="add()" [disabled]="atMax()">Add</button>
    </fieldset>
  `,
})
export class FormlyArrayType extends FieldArrayType {
  protected atMin(): boolean {
    return (this.field.fieldGroup?.length ?? 0) <= (this.props['minItems'] ?? 0);
  }
  protected atMax(): boolean {
    const max = this.props['maxItems'];
    return max !== undefined && (this.field.fieldGroup?.length ?? 0) >= max;
  }
}

const VALIDATION_MESSAGES = [
  { name: 'required', message: 'Required.' },
  { name: 'type', message: 'Not of the right type.' },
  { name: 'enum', message: 'Not one of the choices.' },
  { name: 'min', message: (_e: unknown, f: FormlyFieldConfig) => `At least ${f.props?.min}.` },
  { name: 'max', message: (_e: unknown, f: FormlyFieldConfig) => `At most ${f.props?.max}.` },
  {
    name: 'exclusiveMinimum',
    message: (_e: unknown, f: FormlyFieldConfig) => `More than ${f.props?.['exclusiveMinimum']}.`,
  },
  {
    name: 'exclusiveMaximum',
    message: (_e: unknown, f: FormlyFieldConfig) => `Less than ${f.props?.['exclusiveMaximum']}.`,
  },
  { name: 'multipleOf', message: (_e: unknown, f: FormlyFieldConfig) => `A multiple of ${f.props?.step}.` },
  { name: 'minLength', message: (_e: unknown, f: FormlyFieldConfig) => `At least ${f.props?.minLength} characters.` },
  { name: 'maxLength', message: (_e: unknown, f: FormlyFieldConfig) => `At most ${f.props?.maxLength} characters.` },
  { name: 'minItems', message: (_e: unknown, f: FormlyFieldConfig) => `At least ${f.props?.['minItems']} items.` },
  { name: 'maxItems', message: (_e: unknown, f: FormlyFieldConfig) => `At most ${f.props?.['maxItems']} items.` },
];

/** What the generated forms need: formly with the Material field types, ours for objects and arrays. */
export function provideModelForms(): Provider {
  return provideFormlyCore([
    ...withFormlyMaterial(),
    {
      types: [
        { name: 'object', extends: 'formly-group' },
        { name: 'array', component: FormlyArrayType },
      ],
      validationMessages: VALIDATION_MESSAGES,
      // Validated as you type: an error shows once a field changed, was left, or the form was sent.
      extras: {
        showError: (field) =>
          !!field.formControl?.invalid &&
          (field.formControl.dirty || field.formControl.touched || !!field.options?.parentForm?.submitted),
      },
    },
  ]);
}

/** "5 to 30 °C", "at most 64 characters": the bounds a field's hint shows. */
export function describeBounds(schema: ValueSchema): string | undefined {
  const unit = schema.unit ? `\u00a0${schema.unit}` : '';
  const low = schema.minimum ?? schema.exclusiveMinimum;
  const high = schema.maximum ?? schema.exclusiveMaximum;
  if (schema.type === 'number' || schema.type === 'integer') {
    if (low !== undefined && high !== undefined) return `${low} to ${high}${unit}`;
    if (low !== undefined) return `${schema.exclusiveMinimum !== undefined ? 'above' : 'at least'} ${low}${unit}`;
    if (high !== undefined) return `${schema.exclusiveMaximum !== undefined ? 'below' : 'at most'} ${high}${unit}`;
    return unit ? `in ${schema.unit}` : undefined;
  }
  if (schema.type === 'string' && schema.maxLength !== undefined) return `at most ${schema.maxLength} characters`;
  return undefined;
}

/**
 * The form for a value schema (an object schema for a command's params or the
 * desired state): labels from `title` (the property name otherwise) with the
 * unit, bounds and description as the hint, defaults filled, booleans as an
 * on/off choice (a required checkbox would only accept "on").
 */
export function formFromSchema(jsonSchema: FormlyJsonschema, schema: ValueSchema): FormlyFieldConfig {
  return jsonSchema.toFieldConfig(schema as never, {
    map: (field: FormlyFieldConfig, source: unknown) => {
      const s = source as ValueSchema;
      const props = (field.props ??= {});
      const name = typeof field.key === 'string' ? field.key : undefined;
      const label = s.title ?? name;
      if (label && s.type !== 'object') props.label = s.unit ? `${label} (${s.unit})` : label;
      else if (label) props.label = label;
      const hint = [s.description, describeBounds(s)].filter(Boolean).join(' · ');
      if (hint && s.type !== 'object' && s.type !== 'array') props.description = hint;
      if (s.type === 'boolean' && !s.enum) {
        field.type = 'radio';
        props.options = [
          { value: true, label: 'On' },
          { value: false, label: 'Off' },
        ];
      }
      if (field.type !== 'object' && field.type !== 'array' && field.type !== 'radio') props['appearance'] = 'outline';
      return field;
    },
  });
}

/** A form's value as JSON: unset (undefined) fields dropped, at every depth. */
export function toJson(value: unknown): unknown {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.map((item) => toJson(item) ?? null);
  if (value !== null && typeof value === 'object') {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) {
      const json = toJson(item);
      if (json !== undefined) out[key] = json;
    }
    return out;
  }
  return value;
}

/** The object schema of a model's desired properties (each optional: a patch sets only some). */
export function desiredSchema(desired: Record<string, ValueSchema>): ValueSchema {
  return { type: 'object', properties: desired };
}

/** The desired values the form starts from: what is desired now, for the model's properties only. */
export function desiredStart(desired: Record<string, ValueSchema>, current: JsonObject): JsonObject {
  const start: JsonObject = {};
  for (const key of Object.keys(desired)) {
    if (Object.prototype.hasOwnProperty.call(current, key))
      start[key] = JSON.parse(JSON.stringify(current[key])) as unknown;
  }
  return start;
}

/** A merge patch setting the properties whose value the form changed (an emptied one is left as it is). */
export function desiredPatch(value: unknown, current: JsonObject): JsonObject {
  const json = toJson(value);
  const patch: JsonObject = {};
  if (!isJsonObject(json)) return patch;
  for (const [key, next] of Object.entries(json)) {
    if (JSON.stringify(next) !== JSON.stringify(current[key])) patch[key] = next;
  }
  return patch;
}
