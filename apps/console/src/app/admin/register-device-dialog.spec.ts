import { Clipboard } from '@angular/cdk/clipboard';
import { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { MatDialog, type MatDialogRef } from '@angular/material/dialog';
import { Router } from '@angular/router';
import type { DeviceView } from '@iot/protocol';
import { DEVICES_URL } from '../core/devices/devices-api';
import { openRegisterDeviceDialog, type RegisterDeviceDialog } from './register-device-dialog';
import {
  adminProviders,
  aDeviceView,
  buttonByText,
  dialogElement,
  fakeClipboard,
  settle,
  someCredentials,
  typeInto,
} from './testing';

describe('RegisterDeviceDialog', () => {
  let http: HttpTestingController;
  let ref: MatDialogRef<RegisterDeviceDialog, DeviceView>;
  let closedWith: { value: DeviceView | undefined } | undefined;

  const dialog = () => dialogElement();
  const input = (name: string) => dialog().querySelector<HTMLInputElement>(`input[formcontrolname="${name}"]`);
  const errorsText = () => [...dialog().querySelectorAll('mat-error')].map((e) => e.textContent?.trim());
  // The CDK overlay reads keyCode.
  const escape = () => new KeyboardEvent('keydown', { key: 'Escape', keyCode: 27, bubbles: true });
  const submit = async () => {
    buttonByText(dialog(), 'Register').click();
    await settle();
  };

  async function fill(values: { id?: string; name?: string; type?: string }): Promise<void> {
    for (const [name, value] of Object.entries(values)) typeInto(input(name), value);
    await settle();
  }

  beforeEach(async () => {
    TestBed.configureTestingModule({
      providers: [...adminProviders(), { provide: Clipboard, useValue: fakeClipboard().clipboard }],
    });
    http = TestBed.inject(HttpTestingController);
    closedWith = undefined;
    ref = openRegisterDeviceDialog(TestBed.inject(MatDialog));
    ref.afterClosed().subscribe((value) => (closedWith = { value }));
    await settle();
  });

  afterEach(() => http.verify());

  it('has a labelled field for each thing the create endpoint takes, the first one focused', () => {
    const labels = [...dialog().querySelectorAll('mat-label')].map((label) => label.textContent?.trim());
    expect(labels).toEqual(['Device id', 'Name', 'Type']);
    expect(dialog().querySelector('legend')?.textContent).toContain('Labels');
    expect(dialog().querySelector('h2')?.textContent).toBe('Register device');
    expect(dialog().getAttribute('aria-labelledby')).toBe(dialog().querySelector('h2')?.id);
    expect(dialog().getAttribute('aria-modal')).toBe('true');
    expect(document.activeElement).toBe(input('id'));
  });

  it('checks the form with the protocol’s rules and sends nothing while it is wrong', async () => {
    await fill({ id: '-bad id' });
    await submit();

    expect(errorsText()).toEqual([
      'Device ids are 1-64 letters, digits, _ or -, starting with a letter or digit.',
      'Required.',
    ]);
    expect(document.activeElement).toBe(input('id'));
    expect(input('id')?.getAttribute('aria-invalid')).toBe('true');
    http.expectNone(DEVICES_URL);
  });

  it('sends the trimmed fields, leaving blank optional ones out', async () => {
    await fill({ name: '  Main boiler ' });
    await submit();

    const request = http.expectOne(DEVICES_URL);
    expect(request.request.method).toBe('POST');
    expect(request.request.body).toEqual({ name: 'Main boiler' });
    expect(buttonByText(dialog(), 'Registering…').disabled).toBe(true);
    request.flush({
      device: aDeviceView({ id: 'dev-1a2b3c4d5e6f', name: 'Main boiler' }),
      credentials: someCredentials('dev-1a2b3c4d5e6f'),
    });
  });

  it('sends labels, checked row by row', async () => {
    await fill({ id: 'boiler-1', name: 'Boiler', type: 'boiler' });
    buttonByText(dialog(), '+ Add label').click();
    await settle();
    const key = dialog().querySelector<HTMLInputElement>('input[data-label-key="0"]');
    expect(document.activeElement).toBe(key);
    typeInto(key, 'bad key');
    await settle();
    await submit();

    expect(errorsText()).toEqual(['Label keys are 1-63 of A-Z a-z 0-9 _ . / -.']);
    expect(document.activeElement).toBe(key);
    http.expectNone(DEVICES_URL);

    typeInto(key, 'site');
    typeInto(dialog().querySelector<HTMLInputElement>('input[formcontrolname="value"]'), 'cellar');
    await submit();

    const request = http.expectOne(DEVICES_URL);
    expect(request.request.body).toEqual({
      id: 'boiler-1',
      name: 'Boiler',
      type: 'boiler',
      labels: { site: 'cellar' },
    });
    request.flush({ device: aDeviceView({ id: 'boiler-1' }), credentials: someCredentials('boiler-1') });
  });

  it('refuses a label key given twice, and removes a label row', async () => {
    await fill({ name: 'Boiler' });
    for (let i = 0; i < 2; i++) {
      buttonByText(dialog(), '+ Add label').click();
      await settle();
      typeInto(dialog().querySelector<HTMLInputElement>(`input[data-label-key="${i}"]`), 'site');
    }
    await submit();

    expect(dialog().querySelector('.labels-error')?.textContent).toContain('The label “site” is given twice.');
    expect(document.activeElement).toBe(dialog().querySelector('.labels-error'));
    http.expectNone(DEVICES_URL);

    dialog().querySelector<HTMLButtonElement>('button[aria-label="Remove label 2"]')?.click();
    await settle();
    expect(dialog().querySelectorAll('.label-row').length).toBe(1);
    expect(document.activeElement).toBe(dialog().querySelector('input[data-label-key="0"]'));
    expect(dialog().querySelector('.labels-error')).toBeNull();
  });

  it('shows a 409 on the id field and focuses it', async () => {
    await fill({ id: 'boiler-1', name: 'Boiler' });
    await submit();
    http
      .expectOne(DEVICES_URL)
      .flush(
        { statusCode: 409, error: 'Conflict', message: 'device boiler-1 exists' },
        { status: 409, statusText: 'Conflict' },
      );
    await settle();

    expect(errorsText()).toEqual(['A device with this id exists already. Choose another id.']);
    expect(document.activeElement).toBe(input('id'));
    expect(dialog().querySelector('h2')?.textContent).toBe('Register device');
    expect(closedWith).toBeUndefined();

    // Editing the id clears the api's complaint.
    await fill({ id: 'boiler-2' });
    expect(errorsText()).toEqual([]);
  });

  it('shows a 400 under the field it names, and the rest above the buttons', async () => {
    await fill({ name: 'Boiler' });
    await submit();
    http
      .expectOne(DEVICES_URL)
      .flush(
        { statusCode: 400, error: 'Bad Request', message: 'name: a name the api refuses; something else' },
        { status: 400, statusText: 'Bad Request' },
      );
    await settle();

    expect(errorsText()).toEqual(['A name the api refuses.']);
    expect(dialog().querySelector('[role="alert"]')?.textContent).toContain('Something else.');
    expect(document.activeElement).toBe(input('name'));
  });

  it('shows other failures in words above the buttons', async () => {
    await fill({ name: 'Boiler' });
    await submit();
    http.expectOne(DEVICES_URL).error(new ProgressEvent('error'));
    await settle();

    expect(dialog().querySelector('[role="alert"]')?.textContent).toContain('Cannot reach the platform');
    expect(buttonByText(dialog(), 'Register').disabled).toBe(false);
  });

  it('shows the credentials once, with snippets for this device, and closes with the device when done', async () => {
    await fill({ id: 'boiler-1', name: 'Main boiler' });
    await submit();
    const device = aDeviceView({ id: 'boiler-1', name: 'Main boiler' });
    http.expectOne(DEVICES_URL).flush({ device, credentials: someCredentials('boiler-1', 'the-secret') });
    await settle();

    const title = dialog().querySelector('h2');
    expect(title?.textContent).toBe('Device registered');
    expect(document.activeElement).toBe(title);
    expect(dialog().querySelector('form')).toBeNull();
    expect(dialog().querySelector('.value-secret')?.textContent).toBe('the-secret');
    expect(dialog().textContent).toContain('it is not shown again');
    expect(dialog().querySelector('.code-mosquitto')?.textContent).toContain(
      "-i boiler-1 -u boiler-1 -P 'the-secret' -q 1 \\\n  -t devices/boiler-1/telemetry",
    );
    expect(dialog().querySelector('.code-sdk')?.textContent).toContain("password: 'the-secret'");

    // Escape does not throw the secret away: only the explicit button closes.
    document.body.dispatchEvent(escape());
    await settle();
    expect(closedWith).toBeUndefined();

    buttonByText(dialog(), 'Done, I have saved the secret').click();
    await settle();
    expect(closedWith).toEqual({ value: device });
    expect(document.querySelector('mat-dialog-container')).toBeNull();
  });

  it('can go straight to the new device’s page', async () => {
    const navigate = jest.spyOn(TestBed.inject(Router), 'navigate').mockResolvedValue(true);
    await fill({ id: 'boiler-1', name: 'Boiler' });
    await submit();
    http
      .expectOne(DEVICES_URL)
      .flush({ device: aDeviceView({ id: 'boiler-1' }), credentials: someCredentials('boiler-1') });
    await settle();

    buttonByText(dialog(), 'Open device page').click();
    await settle();

    expect(navigate).toHaveBeenCalledWith(['/devices', 'boiler-1']);
    expect(closedWith?.value?.id).toBe('boiler-1');
  });

  it('closes with nothing on Cancel, and with Escape, sending nothing', async () => {
    await fill({ name: 'Boiler' });
    buttonByText(dialog(), 'Cancel').click();
    await settle();

    expect(closedWith).toEqual({ value: undefined });
    http.expectNone(DEVICES_URL);

    closedWith = undefined;
    ref = openRegisterDeviceDialog(TestBed.inject(MatDialog));
    ref.afterClosed().subscribe((value) => (closedWith = { value }));
    await settle();
    dialog().dispatchEvent(escape());
    await settle();
    expect(closedWith).toEqual({ value: undefined });
  });
});
