import { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { MatDialog } from '@angular/material/dialog';
import { alarmRuleRequestSchema, type AlarmRuleView } from '@iot/protocol';
import { adminProviders, buttonByText, dialogElement, settle } from '../admin/testing';
import { ALARM_RULES_URL, MODELS_URL } from '../core/alarms/alarms-api';
import { apiUrl } from '../core/api-url';
import { openRuleDialog } from './rule-dialog';

const THERMOSTAT = {
  id: 'sim.thermostat',
  version: 1,
  title: 'Thermostat',
  telemetry: {
    temperature: { type: 'number', title: 'Temperature', unit: '°C' },
    heating: { type: 'boolean', title: 'Heating' },
  },
};

describe('RuleDialog', () => {
  let http: HttpTestingController;
  let closed: Array<AlarmRuleView | undefined>;

  const field = <T extends HTMLElement>(id: string) => dialogElement().querySelector<T>(`#${id}`) as T;
  function change(id: string, value: string, event = 'change'): void {
    const element = field<HTMLInputElement | HTMLSelectElement>(id);
    element.value = value;
    element.dispatchEvent(new Event(event));
  }

  async function open(rule: AlarmRuleView | null): Promise<void> {
    TestBed.configureTestingModule({ providers: adminProviders() });
    http = TestBed.inject(HttpTestingController);
    closed = [];
    openRuleDialog(TestBed.inject(MatDialog), rule).subscribe((answer) => closed.push(answer));
    await settle();
    http
      .expectOne((r) => r.url === MODELS_URL)
      .flush({ items: [{ id: 'sim.thermostat', version: 1, title: 'Thermostat', versions: 1 }], nextCursor: null });
    await settle();
  }

  afterEach(() => http.verify());

  it('picks the key from the model with its unit, and posts a rule the protocol schema accepts', async () => {
    await open(null);
    change('rule-name', 'Too hot', 'input');
    change('rule-model', 'sim.thermostat');
    await settle();
    http.expectOne(apiUrl('/models/sim.thermostat/versions/1')).flush(THERMOSTAT);
    await settle();

    const keys = [...field<HTMLSelectElement>('rule-key').options].map((o) => o.textContent?.trim());
    expect(keys).toEqual(['pick a key', 'Temperature · temperature (°C)']);
    change('rule-key', 'temperature');
    await settle();
    expect(dialogElement().querySelector('label[for="rule-threshold"]')?.textContent?.trim()).toBe('Threshold (°C)');
    change('rule-threshold', '24', 'input');
    change('rule-for', '10', 'input');
    buttonByText(dialogElement(), 'Create rule').click();

    const request = http.expectOne({ method: 'POST', url: ALARM_RULES_URL });
    expect(request.request.body).toEqual({
      name: 'Too hot',
      severity: 'major',
      enabled: true,
      target: { modelId: 'sim.thermostat' },
      condition: { kind: 'above', key: 'temperature', threshold: 24, hysteresis: 0, forMs: 10_000 },
    });
    expect(alarmRuleRequestSchema.safeParse(request.request.body).success).toBe(true);
    const saved = { id: 'r1', ...request.request.body, createdAt: 1, updatedAt: 1 } as AlarmRuleView;
    request.flush(saved);
    await settle();
    expect(closed).toEqual([saved]);
  });

  it('says what is wrong instead of sending a rule the api would refuse', async () => {
    await open(null);
    change('rule-condition', 'offline');
    change('rule-for', '0', 'input');
    await settle();
    buttonByText(dialogElement(), 'Create rule').click();
    await settle();

    const alert = dialogElement().querySelector('[role="alert"]')?.textContent ?? '';
    expect(alert).toMatch(/name/);
    expect(alert).toMatch(/modelId/);
    expect(alert).toMatch(/forMs/);
    http.expectNone(ALARM_RULES_URL);
  });

  it('edits a rule on labels with a typed key (no model to pick from), and shows the api’s refusal', async () => {
    const rule: AlarmRuleView = {
      id: 'r1',
      name: 'Cold',
      severity: 'minor',
      enabled: true,
      target: { labels: 'site=a' },
      condition: { kind: 'below', key: 'temp', threshold: 5, hysteresis: 1, forMs: 0 },
      createdAt: 1,
      updatedAt: 1,
    };
    await open(rule);
    expect(field<HTMLInputElement>('rule-key').tagName).toBe('INPUT');
    expect(field<HTMLInputElement>('rule-key').value).toBe('temp');
    change('rule-threshold', '4', 'input');
    buttonByText(dialogElement(), 'Save rule').click();

    const request = http.expectOne({ method: 'PUT', url: `${ALARM_RULES_URL}/r1` });
    expect(request.request.body.condition).toEqual({
      kind: 'below',
      key: 'temp',
      threshold: 4,
      hysteresis: 1,
      forMs: 0,
    });
    request.flush({ statusCode: 404, message: 'No alarm rule r1' }, { status: 404, statusText: 'Not Found' });
    await settle();
    expect(dialogElement().querySelector('[role="alert"]')?.textContent).toContain(
      'Could not save the rule: No alarm rule r1',
    );
  });
});
