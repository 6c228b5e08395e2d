import { HttpTestingController, type TestRequest } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import type { AuditEntryView } from '@iot/protocol';
import { AUDIT_URL } from '../core/audit/audit-api';
import { AuditPage, bulkLink, parseLocalTime } from './audit.page';
import { adminProviders, buttonByText, settle as settleApp, typeInto } from './testing';

function anEntry(id: number, overrides: Partial<AuditEntryView> = {}): AuditEntryView {
  return {
    id,
    ts: 1_700_000_000_000 + id,
    actor: 'root',
    action: 'user.create',
    target: `user-${id}`,
    outcome: 'ok',
    address: '10.0.0.1',
    detail: null,
    ...overrides,
  };
}

describe('AuditPage', () => {
  let fixture: ComponentFixture<AuditPage>;
  let http: HttpTestingController;
  let page: HTMLElement;

  const rows = () => [...page.querySelectorAll('tbody tr')].map((tr) => tr.querySelectorAll('td')[3]?.textContent);
  const expectList = (): TestRequest => http.expectOne((r) => r.url === AUDIT_URL);
  async function settle(): Promise<void> {
    await settleApp();
    await fixture.whenStable();
  }

  beforeEach(async () => {
    TestBed.configureTestingModule({ imports: [AuditPage], providers: adminProviders() });
    http = TestBed.inject(HttpTestingController);
    fixture = TestBed.createComponent(AuditPage);
    page = fixture.nativeElement as HTMLElement;
    await settle();
  });

  afterEach(() => http.verify());

  it('shows the newest page, and appends the next one on "Load more"', async () => {
    const first = expectList();
    expect(first.request.params.get('limit')).toBe('100');
    expect(first.request.params.has('cursor')).toBe(false);
    first.flush({ items: [anEntry(3), anEntry(2, { outcome: 'refused', actor: null })], nextCursor: '2' });
    await settle();
    expect(rows()).toEqual(['user-3', 'user-2']);
    expect(page.querySelector('.outcome-refused')?.textContent).toBe('refused');

    buttonByText(page, 'Load more').click();
    const next = expectList();
    expect(next.request.params.get('cursor')).toBe('2');
    next.flush({ items: [anEntry(1)], nextCursor: null });
    await settle();

    expect(rows()).toEqual(['user-3', 'user-2', 'user-1']);
    expect(() => buttonByText(page, 'Load more')).toThrow();
  });

  it('sends the filters to the api and exports the same filtered view as CSV', async () => {
    expectList().flush({ items: [anEntry(1)], nextCursor: null });
    await settle();
    typeInto(page.querySelector('input[name="actor"]'), ' ada ');
    typeInto(page.querySelector('input[name="action"]'), 'user.create');
    typeInto(page.querySelector('input[name="from"]'), '2024-01-02T03:04');
    buttonByText(page, 'Apply').click();
    await settle();

    const request = expectList();
    expect(request.request.params.get('actor')).toBe('ada');
    expect(request.request.params.get('action')).toBe('user.create');
    expect(request.request.params.get('from')).toBe(String(new Date('2024-01-02T03:04').getTime()));
    expect(request.request.params.has('target')).toBe(false);
    expect(request.request.params.has('to')).toBe(false);
    request.flush({ items: [], nextCursor: null });
    await settle();

    expect(page.textContent).toContain('No entries match.');
    const link = page.querySelector<HTMLAnchorElement>('a.export');
    const url = new URL(link?.getAttribute('href') ?? '', 'http://console.test');
    expect(url.pathname).toBe('/api/v1/audit');
    expect(url.searchParams.get('format')).toBe('csv');
    expect(url.searchParams.get('limit')).toBe('1000');
    expect(url.searchParams.get('actor')).toBe('ada');
    expect(url.searchParams.get('action')).toBe('user.create');
    expect(link?.hasAttribute('download')).toBe(true);
  });

  it("says why the log did not load, with the api's message", async () => {
    expectList().flush(
      { statusCode: 400, error: 'Bad Request', message: 'cursor: a cursor from nextCursor' },
      { status: 400, statusText: 'Bad Request' },
    );
    await settle();
    expect(page.querySelector('[role="alert"]')?.textContent).toContain('cursor: a cursor from nextCursor');
  });

  it("links a bulk's entry to the bulk's page, each device's outcome", async () => {
    const bulkId = '019a0000-0000-7000-8000-000000000001';
    expectList().flush({
      items: [anEntry(3, { action: 'command.bulk', target: bulkId, detail: 'reboot site=a 2 devices' }), anEntry(2)],
      nextCursor: null,
    });
    await settle();
    const links = [...page.querySelectorAll<HTMLAnchorElement>('tbody a')];
    expect(links.map((a) => [a.textContent, a.getAttribute('href')])).toEqual([[bulkId, `/bulk/${bulkId}`]]);
  });

  it('stops paging when the api repeats a page', async () => {
    expectList().flush({ items: [anEntry(2)], nextCursor: '2' });
    await settle();
    buttonByText(page, 'Load more').click();
    expectList().flush({ items: [anEntry(2)], nextCursor: '2' });
    await settle();
    expect(rows()).toEqual(['user-2']);
    expect(() => buttonByText(page, 'Load more')).toThrow();
  });
});

describe('parseLocalTime', () => {
  it('reads a datetime-local value as local time, and nothing else', () => {
    expect(parseLocalTime('2024-01-02T03:04')).toBe(new Date(2024, 0, 2, 3, 4).getTime());
    expect(parseLocalTime('')).toBeNull();
    expect(parseLocalTime('not a time')).toBeNull();
  });
});

describe('bulkLink', () => {
  it("is the bulk's page for a bulk command or patch that was made, else null", () => {
    const id = '019a0000-0000-7000-8000-000000000001';
    expect(bulkLink(anEntry(1, { action: 'state.bulk', target: id }))).toEqual(['/bulk', id]);
    expect(bulkLink(anEntry(1, { action: 'command.bulk', target: null, outcome: 'refused' }))).toBeNull();
    expect(bulkLink(anEntry(1, { action: 'command.send', target: 'd1' }))).toBeNull();
  });
});
