import { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { MatDialog } from '@angular/material/dialog';
import { openDeleteDeviceDialog } from './delete-device-dialog';
import { adminProviders, buttonByText, dialogElement, settle, typeInto } from './testing';

describe('DeleteDeviceDialog', () => {
  const URL = '/api/v1/devices/Boiler-1';
  let http: HttpTestingController;
  let closedWith: { value: true | undefined } | undefined;

  const dialog = () => dialogElement();
  const confirmInput = () => dialog().querySelector<HTMLInputElement>('input');
  const deleteButton = () => buttonByText(dialog(), 'Delete device');

  beforeEach(async () => {
    TestBed.configureTestingModule({ providers: adminProviders() });
    http = TestBed.inject(HttpTestingController);
    closedWith = undefined;
    openDeleteDeviceDialog(TestBed.inject(MatDialog), { id: 'Boiler-1', name: 'Main boiler' })
      .afterClosed()
      .subscribe((value) => (closedWith = { value }));
    await settle();
  });

  afterEach(() => http.verify());

  it('says what is lost, and asks for the id in a labelled field, focused', () => {
    expect(dialog().textContent).toContain('Main boiler');
    expect(dialog().textContent).toContain('cannot be undone');
    expect(dialog().querySelector('mat-label')?.textContent).toBe('Type the device id to confirm');
    expect(dialog().getAttribute('role')).toBe('alertdialog');
    expect(document.activeElement).toBe(confirmInput());
  });

  it('enables Delete only once the id is typed exactly', async () => {
    expect(deleteButton().disabled).toBe(true);

    typeInto(confirmInput(), 'boiler-1');
    await settle();
    expect(deleteButton().disabled).toBe(true);

    typeInto(confirmInput(), 'Boiler-1');
    await settle();
    expect(deleteButton().disabled).toBe(false);
  });

  it('deletes on confirm (Enter in the field submits) and closes with true', async () => {
    typeInto(confirmInput(), 'Boiler-1');
    await settle();
    dialog()
      .querySelector('form')
      ?.dispatchEvent(new Event('submit', { cancelable: true }));
    await settle();

    const request = http.expectOne(URL);
    expect(request.request.method).toBe('DELETE');
    expect(buttonByText(dialog(), 'Deleting…').disabled).toBe(true);
    request.flush(null, { status: 204, statusText: 'No Content' });
    await settle();

    expect(closedWith).toEqual({ value: true });
  });

  it('does not submit a wrong id even from the keyboard', async () => {
    typeInto(confirmInput(), 'Boiler');
    dialog()
      .querySelector('form')
      ?.dispatchEvent(new Event('submit', { cancelable: true }));
    await settle();

    http.expectNone(URL);
    expect(closedWith).toBeUndefined();
  });

  it('treats a device that is already gone as deleted', async () => {
    typeInto(confirmInput(), 'Boiler-1');
    await settle();
    deleteButton().click();
    await settle();
    http.expectOne(URL).flush({ message: 'no device' }, { status: 404, statusText: 'Not Found' });
    await settle();

    expect(closedWith).toEqual({ value: true });
  });

  it('says why deleting failed and stays open', async () => {
    typeInto(confirmInput(), 'Boiler-1');
    await settle();
    deleteButton().click();
    await settle();
    http.expectOne(URL).flush({ message: 'internal error' }, { status: 500, statusText: 'Internal Server Error' });
    await settle();

    expect(dialog().querySelector('[role="alert"]')?.textContent).toContain(
      'Could not delete the device: internal error',
    );
    expect(deleteButton().disabled).toBe(false);
    expect(closedWith).toBeUndefined();
  });

  it('does nothing on Cancel', async () => {
    typeInto(confirmInput(), 'Boiler-1');
    buttonByText(dialog(), 'Cancel').click();
    await settle();

    expect(closedWith).toEqual({ value: undefined });
    http.expectNone(URL);
  });
});
