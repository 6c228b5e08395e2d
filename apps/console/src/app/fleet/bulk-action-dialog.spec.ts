import { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { MatDialog } from '@angular/material/dialog';
import type { BulkCommandView } from '@iot/protocol';
import { adminProviders, buttonByText, dialogElement, settle, typeInto } from '../admin/testing';
import { type BulkActionData, openBulkActionDialog } from './bulk-action-dialog';

const BULK: BulkCommandView = {
  bulkId: '019a0000-0000-7000-8000-000000000001',
  kind: 'command',
  name: 'reboot',
  createdBy: 'ops',
  createdAt: 1,
  target: 'devices',
  items: [],
  counts: {},
};

describe('BulkActionDialog', () => {
  let http: HttpTestingController;
  let closedWith: { value: BulkCommandView | undefined } | undefined;

  async function open(data: BulkActionData): Promise<void> {
    TestBed.configureTestingModule({ providers: adminProviders() });
    http = TestBed.inject(HttpTestingController);
    closedWith = undefined;
    openBulkActionDialog(TestBed.inject(MatDialog), data)
      .afterClosed()
      .subscribe((value) => (closedWith = { value }));
    await settle();
  }

  afterEach(() => {
    http.verify();
    TestBed.inject(MatDialog).closeAll();
  });

  it('sends a named command with raw JSON params to the devices picked, when they share no model', async () => {
    await open({ kind: 'command', target: { devices: ['a', 'b'] }, description: '2 selected devices', model: null });
    expect(dialogElement().textContent).toContain('To 2 selected devices');
    typeInto(dialogElement().querySelector('input[name="name"]'), 'reboot');
    typeInto(dialogElement().querySelector<HTMLInputElement>('textarea[name="json"]'), '[1]');
    buttonByText(dialogElement(), 'Send to all').click();
    await settle();
    // Params that are no JSON object are not sent.
    http.expectNone('/api/v1/commands/bulk');
    expect(dialogElement().textContent).toContain('Must be a JSON object');

    typeInto(dialogElement().querySelector<HTMLInputElement>('textarea[name="json"]'), '{"delay": 5}');
    buttonByText(dialogElement(), 'Send to all').click();
    const request = http.expectOne('/api/v1/commands/bulk');
    expect(request.request.body).toEqual({ devices: ['a', 'b'], name: 'reboot', params: { delay: 5 } });
    request.flush(BULK, { status: 201, statusText: 'Created' });
    await settle();
    expect(closedWith).toEqual({ value: BULK });
  });

  it("uses the shared model's command and generated form, and a label selector as the target", async () => {
    await open({
      kind: 'command',
      target: { labels: 'site=a' },
      description: 'every device labelled site=a',
      model: { id: 'acme.lamp', version: 2 },
    });
    http.expectOne('/api/v1/models/acme.lamp/versions/2').flush({
      id: 'acme.lamp',
      version: 2,
      commands: {
        dim: {
          title: 'Dim',
          params: { type: 'object', properties: { level: { type: 'integer', default: 40 } }, required: ['level'] },
        },
      },
    });
    await settle();
    expect(dialogElement().textContent).toContain('acme.lamp@2');
    expect(dialogElement().querySelector('select[name="command"]')?.textContent).toContain('Dim');
    buttonByText(dialogElement(), 'Send to all').click();
    const request = http.expectOne('/api/v1/commands/bulk');
    expect(request.request.body).toEqual({ labels: 'site=a', name: 'dim', params: { level: 40 } });
    request.flush('', { status: 400, statusText: 'Bad Request' });
    await settle();
    // Refused as a whole: the dialog stays, saying why.
    expect(closedWith).toBeUndefined();
    expect(dialogElement().querySelector('[role="alert"]')?.textContent).toContain('Could not send it');
  });

  it('patches the desired state with a raw merge patch, which it requires', async () => {
    await open({ kind: 'desired', target: { devices: ['a'] }, description: '1 selected device', model: null });
    buttonByText(dialogElement(), 'Patch all').click();
    await settle();
    http.expectNone('/api/v1/state/bulk');
    expect(dialogElement().textContent).toContain('A merge patch is required.');
    typeInto(dialogElement().querySelector<HTMLInputElement>('textarea[name="json"]'), '{"mode": "eco"}');
    buttonByText(dialogElement(), 'Patch all').click();
    const request = http.expectOne('/api/v1/state/bulk');
    expect(request.request.body).toEqual({ devices: ['a'], desired: { mode: 'eco' } });
    request.flush({ ...BULK, kind: 'desired' }, { status: 201, statusText: 'Created' });
    await settle();
    expect(closedWith?.value?.kind).toBe('desired');
  });

  it('falls back to a raw merge patch when the shared model has no desired properties', async () => {
    await open({ kind: 'desired', target: { labels: 'site=a' }, description: 'site=a', model: { id: 'm', version: 1 } });
    http.expectOne('/api/v1/models/m/versions/1').flush({ id: 'm', version: 1, commands: { reboot: {} } });
    await settle();
    typeInto(dialogElement().querySelector<HTMLInputElement>('textarea[name="json"]'), '{"fan": 2}');
    buttonByText(dialogElement(), 'Patch all').click();
    const request = http.expectOne('/api/v1/state/bulk');
    expect(request.request.body).toEqual({ labels: 'site=a', desired: { fan: 2 } });
    request.flush({ ...BULK, kind: 'desired' }, { status: 201, statusText: 'Created' });
    await settle();
  });
});
