import { Clipboard } from '@angular/cdk/clipboard';
import { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { MatDialog } from '@angular/material/dialog';
import type { DeviceCredentials } from '@iot/protocol';
import { openRotateSecretDialog } from './rotate-secret-dialog';
import { adminProviders, buttonByText, dialogElement, fakeClipboard, settle, someCredentials } from './testing';

describe('RotateSecretDialog', () => {
  const URL = '/api/v1/devices/boiler-1/credentials';
  let http: HttpTestingController;
  let closedWith: { value: DeviceCredentials | undefined } | undefined;

  const dialog = () => dialogElement();
  const escape = () => new KeyboardEvent('keydown', { key: 'Escape', keyCode: 27, bubbles: true });

  beforeEach(async () => {
    TestBed.configureTestingModule({
      providers: [...adminProviders(), { provide: Clipboard, useValue: fakeClipboard().clipboard }],
    });
    http = TestBed.inject(HttpTestingController);
    closedWith = undefined;
    openRotateSecretDialog(TestBed.inject(MatDialog), { id: 'boiler-1', name: 'Main boiler' })
      .afterClosed()
      .subscribe((value) => (closedWith = { value }));
    await settle();
  });

  afterEach(() => http.verify());

  it('asks first, naming the device and what rotating does, as an alert dialog', () => {
    expect(dialog().querySelector('h2')?.textContent).toBe('Rotate the secret?');
    expect(dialog().textContent).toContain('Main boiler');
    expect(dialog().textContent).toContain('boiler-1');
    expect(dialog().textContent).toContain('stops working at once');
    expect(dialog().getAttribute('role')).toBe('alertdialog');
    // Rotating cuts the device off: the focus starts on Cancel.
    expect(document.activeElement).toBe(buttonByText(dialog(), 'Cancel'));
  });

  it('does nothing on Cancel', async () => {
    buttonByText(dialog(), 'Cancel').click();
    await settle();

    expect(closedWith).toEqual({ value: undefined });
    http.expectNone(URL);
  });

  it('rotates on confirm and shows the new secret once, with snippets, until Done', async () => {
    buttonByText(dialog(), 'Rotate secret').click();
    await settle();
    const request = http.expectOne(URL);
    expect(request.request.method).toBe('POST');
    expect(buttonByText(dialog(), 'Rotating…').disabled).toBe(true);
    request.flush(someCredentials('boiler-1', 'fresh-secret'), { status: 201, statusText: 'Created' });
    await settle();

    const title = dialog().querySelector('h2');
    expect(title?.textContent).toBe('New secret');
    expect(document.activeElement).toBe(title);
    expect(dialog().querySelector('.value-secret')?.textContent).toBe('fresh-secret');
    expect(dialog().textContent).toContain('it is not shown again');
    expect(dialog().querySelector('.code-mosquitto')?.textContent).toContain("-u boiler-1 -P 'fresh-secret'");
    expect(dialog().querySelector('.code-mosquitto')?.textContent).toContain('-t devices/boiler-1/telemetry');

    dialog().dispatchEvent(escape());
    await settle();
    expect(closedWith).toBeUndefined();

    buttonByText(dialog(), 'Done, I have saved the secret').click();
    await settle();
    expect(closedWith).toEqual({ value: someCredentials('boiler-1', 'fresh-secret') });
  });

  it('says why rotating failed and lets the admin cancel', async () => {
    buttonByText(dialog(), 'Rotate secret').click();
    await settle();
    http
      .expectOne(URL)
      .flush(
        { statusCode: 404, error: 'Not Found', message: 'no device boiler-1' },
        { status: 404, statusText: 'Not Found' },
      );
    await settle();

    expect(dialog().querySelector('[role="alert"]')?.textContent).toContain(
      'Could not rotate the secret: no device boiler-1',
    );
    dialog().dispatchEvent(escape());
    await settle();
    expect(closedWith).toEqual({ value: undefined });
  });
});
