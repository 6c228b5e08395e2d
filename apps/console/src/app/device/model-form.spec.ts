import { ChangeDetectionStrategy, Component, signal } from '@angular/core';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { FormGroup } from '@angular/forms';
import { MATERIAL_ANIMATIONS } from '@angular/material/core';
import type { ValueSchema } from '@iot/protocol';
import { type FormlyFieldConfig, FormlyForm } from '@ngx-formly/core';
import { FormlyJsonschema } from '@ngx-formly/core/json-schema';
import { describeBounds, desiredPatch, desiredStart, formFromSchema, provideModelForms, toJson } from './model-form';

const SETPOINT: ValueSchema = {
  type: 'object',
  properties: {
    value: { type: 'number', title: 'Setpoint', minimum: 5, maximum: 30, unit: '°C', default: 21 },
    mode: { type: 'string', enum: ['eco', 'comfort'] },
    boost: { type: 'boolean' },
    label: { type: 'string', maxLength: 8, description: 'Shown on the display' },
    steps: { type: 'array', items: { type: 'integer', minimum: 0 }, maxItems: 3 },
  },
  required: ['value', 'boost'],
  additionalProperties: false,
};

@Component({
  imports: [FormlyForm],
  providers: [provideModelForms()],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `<form><formly-form [form]="group" [fields]="fields()" [model]="value" /></form>`,
})
class Host {
  group = new FormGroup({});
  value: Record<string, unknown> = {};
  fields = signal<FormlyFieldConfig[]>([]);
}

describe('forms generated from a model schema', () => {
  let fixture: ComponentFixture<Host>;
  let host: Host;
  let element: HTMLElement;

  async function render(schema: ValueSchema): Promise<void> {
    TestBed.configureTestingModule({
      imports: [Host],
      providers: [{ provide: MATERIAL_ANIMATIONS, useValue: { animationsDisabled: true } }],
    });
    fixture = TestBed.createComponent(Host);
    host = fixture.componentInstance;
    element = fixture.nativeElement as HTMLElement;
    host.fields.set([formFromSchema(TestBed.inject(FormlyJsonschema), schema)]);
    await fixture.whenStable();
  }

  const labels = () => [...element.querySelectorAll('mat-label, legend')].map((l) => l.textContent?.trim());
  const input = (name: string) =>
    element.querySelector<HTMLInputElement>(`input[id$="_${name}_0"], input[id*="${name}"]`);

  async function type(target: HTMLInputElement, text: string): Promise<void> {
    target.value = text;
    target.dispatchEvent(new Event('input'));
    await fixture.whenStable();
  }

  it('makes a field per property: titles and units in the labels, bounds and descriptions in the hints', async () => {
    await render(SETPOINT);
    // Required ones are marked.
    expect(labels()).toEqual(['Setpoint (°C) *', 'mode', 'boost *', 'label', 'steps']);
    expect(element.textContent).toContain('5 to 30\u00a0°C');
    expect(element.textContent).toContain('Shown on the display · at most 8 characters');
    expect(element.querySelector('mat-select')).not.toBeNull();
    expect([...element.querySelectorAll('mat-radio-button')].map((r) => r.textContent?.trim())).toEqual(['On', 'Off']);
  });

  it('fills defaults, and is invalid until every required property is set', async () => {
    await render(SETPOINT);
    expect(host.value['value']).toBe(21);
    expect(host.group.valid).toBe(false);
    (element.querySelectorAll<HTMLInputElement>('mat-radio-button input')[1] as HTMLInputElement).click();
    await fixture.whenStable();
    expect(host.value['boost']).toBe(false);
    expect(host.group.valid).toBe(true);
    expect(toJson(host.value)).toEqual({ value: 21, boost: false });
  });

  it('checks bounds as the operator types', async () => {
    await render(SETPOINT);
    const value = input('value') as HTMLInputElement;
    await type(value, '31');
    expect(element.querySelector('mat-error')?.textContent).toContain('At most 30.');
    await type(value, '4');
    expect(element.querySelector('mat-error')?.textContent).toContain('At least 5.');
    await type(value, '22.5');
    expect(element.querySelector('mat-error')).toBeNull();
    expect(host.value['value']).toBe(22.5);
  });

  it('checks lengths of strings', async () => {
    await render(SETPOINT);
    await type(input('label') as HTMLInputElement, 'far too long');
    expect(element.querySelector('mat-error')?.textContent).toContain('At most 8 characters.');
  });

  it('adds and removes array items up to maxItems', async () => {
    await render(SETPOINT);
    const add = () => [...element.querySelectorAll('button')].find((b) => b.textContent?.trim() === 'Add');
    for (let i = 0; i < 3; i++) {
      add()?.click();
      await fixture.whenStable();
    }
    expect(element.querySelectorAll('.form-array-item')).toHaveLength(3);
    expect(add()?.disabled).toBe(true);
  });
});

describe('describeBounds', () => {
  it.each<[ValueSchema, string | undefined]>([
    [{ type: 'number', minimum: 5, maximum: 30, unit: '°C' }, '5 to 30\u00a0°C'],
    [{ type: 'integer', minimum: 1 }, 'at least 1'],
    [{ type: 'number', exclusiveMaximum: 10 }, 'below 10'],
    [{ type: 'number', unit: 'W' }, 'in W'],
    [{ type: 'string', maxLength: 32 }, 'at most 32 characters'],
    [{ type: 'boolean' }, undefined],
  ])('%j → %s', (schema, text) => {
    expect(describeBounds(schema)).toBe(text);
  });
});

describe('desired-state patches', () => {
  const desired: Record<string, ValueSchema> = {
    setpoint: { type: 'number' },
    relay: { type: 'boolean' },
  };

  it('starts from what is desired now, for the model properties only', () => {
    expect(desiredStart(desired, { setpoint: 20, other: 1 })).toEqual({ setpoint: 20 });
  });

  it('sets only what changed, leaving emptied properties alone', () => {
    expect(desiredPatch({ setpoint: 20, relay: true }, { setpoint: 20 })).toEqual({ relay: true });
    expect(desiredPatch({ setpoint: undefined }, { setpoint: 20 })).toEqual({});
  });
});

describe('toJson', () => {
  it('drops unset fields at every depth, and keeps array slots as null', () => {
    expect(toJson({ a: 1, b: undefined, c: { d: undefined, e: [1, undefined] } })).toEqual({
      a: 1,
      c: { e: [1, null] },
    });
  });
});
