import { Clipboard } from '@angular/cdk/clipboard';
import { HttpTestingController } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import type { WebhookView } from '@iot/protocol';
import { ALARM_RULES_URL } from '../core/alarms/alarms-api';
import { WEBHOOKS_URL, webhookUrl } from '../core/webhooks/webhooks-api';
import { adminProviders, buttonByText, dialogElement, fakeClipboard, settle as settleApp, typeInto } from './testing';
import { webhookRequest } from './webhook-dialog';
import { WebhooksPage } from './webhooks.page';

const SECRET = 'a'.repeat(43);

function aWebhook(overrides: Partial<WebhookView> = {}): WebhookView {
  return {
    id: 'w1',
    name: 'Pager',
    url: 'https://hooks.example/alarms',
    minSeverity: null,
    ruleIds: null,
    enabled: true,
    createdBy: 'root',
    createdAt: 1,
    updatedAt: 1,
    ...overrides,
  };
}

describe('WebhooksPage', () => {
  let fixture: ComponentFixture<WebhooksPage>;
  let http: HttpTestingController;
  let page: HTMLElement;
  let copied: string[];

  const row = (id: string) => page.querySelector<HTMLElement>(`tr[data-webhook="${id}"]`) as HTMLElement;
  const secret = () => page.querySelector('[data-testid="webhook-secret"]')?.textContent?.trim() ?? null;
  async function settle(): Promise<void> {
    await settleApp();
    await fixture.whenStable();
  }

  beforeEach(async () => {
    const clipboard = fakeClipboard();
    copied = clipboard.copied;
    TestBed.configureTestingModule({
      imports: [WebhooksPage],
      providers: [...adminProviders(), { provide: Clipboard, useValue: clipboard.clipboard }],
    });
    http = TestBed.inject(HttpTestingController);
    fixture = TestBed.createComponent(WebhooksPage);
    page = fixture.nativeElement as HTMLElement;
    await settle();
    http.expectOne(WEBHOOKS_URL).flush([aWebhook({ minSeverity: 'major', ruleIds: ['r1'] })]);
    await settle();
  });

  afterEach(() => http.verify());

  it('lists the webhooks with what each sends', () => {
    expect(row('w1').textContent).toContain('major or worse, 1 rule');
  });

  it('creates a webhook and shows its secret once, with a copy button', async () => {
    buttonByText(page, 'New webhook').click();
    await settle();
    http.expectOne(ALARM_RULES_URL).flush({ items: [] });
    await settle();
    typeInto(dialogElement().querySelector('#webhook-name'), 'Ops');
    typeInto(dialogElement().querySelector('#webhook-url'), 'https://ops.example/hook');
    buttonByText(dialogElement(), 'Create webhook').click();
    const create = http.expectOne({ method: 'POST', url: WEBHOOKS_URL });
    expect(create.request.body).toEqual({ name: 'Ops', url: 'https://ops.example/hook', enabled: true });
    create.flush({ ...aWebhook({ id: 'w2', name: 'Ops' }), secret: SECRET });
    await settle();
    http.expectOne(WEBHOOKS_URL).flush([aWebhook(), aWebhook({ id: 'w2', name: 'Ops' })]);
    await settle();

    expect(secret()).toBe(SECRET);
    buttonByText(page, 'Copy the secret').click();
    await settle();
    expect(copied).toEqual([SECRET]);
    buttonByText(page, 'Done').click();
    await settle();
    expect(secret()).toBeNull();
    expect(page.textContent).not.toContain(SECRET);
  });

  it('rotates the secret and shows the new one', async () => {
    buttonByText(row('w1'), 'Rotate secret').click();
    http.expectOne(`${webhookUrl('w1')}/rotate-secret`).flush({ ...aWebhook(), secret: SECRET });
    await settle();
    expect(secret()).toBe(SECRET);
  });

  it('sends a test ping and says what the receiver answered', async () => {
    buttonByText(row('w1'), 'Send a test').click();
    http.expectOne(`${webhookUrl('w1')}/test`).flush({ delivered: false, statusCode: 500, error: 'HTTP 500' });
    await settle();
    expect(page.querySelector('.notice')?.textContent).toContain('The test ping to Pager failed: HTTP 500.');
  });

  it('opens the delivery log with status, attempts, last answer and next attempt', async () => {
    buttonByText(row('w1'), 'Deliveries').click();
    const request = http.expectOne((r) => r.url === `${webhookUrl('w1')}/deliveries`);
    request.flush({
      items: [
        {
          id: 'd1',
          webhookId: 'w1',
          seq: 4,
          event: 'alarm',
          alarmId: 'a1',
          status: 'pending',
          attempts: 2,
          lastStatusCode: 503,
          lastError: null,
          nextAttemptAt: 5_000,
          createdAt: 1_000,
          deliveredAt: null,
        },
      ],
      nextCursor: null,
    });
    await settle();
    const cells = [...page.querySelectorAll('tr[data-delivery="d1"] td')].map((td) => td.textContent?.trim());
    expect(cells.slice(1, 5)).toEqual(['alarm', 'pending', '2', 'HTTP 503']);
    expect(cells[5]).not.toBe('—');
  });

  it('deletes a webhook after a confirmation', async () => {
    buttonByText(row('w1'), 'Delete').click();
    await settle();
    buttonByText(row('w1'), 'Delete with its log').click();
    http.expectOne({ method: 'DELETE', url: webhookUrl('w1') }).flush(null);
    await settle();
    http.expectOne(WEBHOOKS_URL).flush([]);
    await settle();
    expect(page.textContent).toContain('No webhooks.');
  });
});

describe('webhookRequest', () => {
  it('leaves out an empty severity and rule list, meaning every one', () => {
    expect(webhookRequest({ name: ' A ', url: 'http://h/x', minSeverity: '', ruleIds: [], enabled: false })).toEqual({
      input: { name: 'A', url: 'http://h/x', enabled: false },
    });
    expect(
      webhookRequest({ name: 'A', url: 'http://h/x', minSeverity: 'minor', ruleIds: ['r1'], enabled: true }),
    ).toEqual({ input: { name: 'A', url: 'http://h/x', minSeverity: 'minor', ruleIds: ['r1'], enabled: true } });
  });

  it('refuses a URL with a password in it, as the api would', () => {
    const sut = webhookRequest({ name: 'A', url: 'https://u:p@h/x', minSeverity: '', ruleIds: [], enabled: true });
    expect('problems' in sut && sut.problems.join()).toMatch(/without user or password/);
  });
});
