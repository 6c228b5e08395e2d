import { Clipboard } from '@angular/cdk/clipboard';
import { HttpTestingController } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { Router } from '@angular/router';
import { AuthService } from '../core/auth/auth.service';
import { DeviceAdminCard } from './device-admin-card';
import {
  adminProviders,
  buttonByText,
  dialogElement,
  fakeAuth,
  fakeClipboard,
  settle,
  someCredentials,
  typeInto,
} from './testing';

describe('DeviceAdminCard', () => {
  let fixture: ComponentFixture<DeviceAdminCard>;
  let http: HttpTestingController;
  let card: HTMLElement;
  let setRole: ReturnType<typeof fakeAuth>['setRole'];
  let navigate: jest.SpyInstance;

  const openDialog = () => document.querySelector('mat-dialog-container');

  beforeEach(async () => {
    const auth = fakeAuth('admin');
    setRole = auth.setRole;
    TestBed.configureTestingModule({
      imports: [DeviceAdminCard],
      providers: [
        ...adminProviders(),
        { provide: AuthService, useValue: auth.auth },
        { provide: Clipboard, useValue: fakeClipboard().clipboard },
      ],
    });
    http = TestBed.inject(HttpTestingController);
    navigate = jest.spyOn(TestBed.inject(Router), 'navigate').mockResolvedValue(true);
    fixture = TestBed.createComponent(DeviceAdminCard);
    fixture.componentRef.setInput('device', { id: 'pump-1', name: 'Cellar pump' });
    card = fixture.nativeElement as HTMLElement;
    await fixture.whenStable();
  });

  afterEach(() => http.verify());

  it('shows the actions to admins only', async () => {
    expect(card.querySelector('h2')?.textContent).toBe('Administration');
    expect(buttonByText(card, 'Rotate secret')).toBeTruthy();
    expect(buttonByText(card, 'Delete device')).toBeTruthy();

    setRole('operator');
    await fixture.whenStable();
    expect(card.textContent?.trim()).toBe('');

    setRole(null);
    await fixture.whenStable();
    expect(card.querySelector('button')).toBeNull();
  });

  it('rotates the secret of the device it was given, after confirmation', async () => {
    buttonByText(card, 'Rotate secret').click();
    await settle();
    buttonByText(dialogElement(), 'Rotate secret').click();
    await settle();
    http.expectOne('/api/v1/devices/pump-1/credentials').flush(someCredentials('pump-1', 'new-one'));
    await settle();

    expect(dialogElement().querySelector('.value-secret')?.textContent).toBe('new-one');
    buttonByText(dialogElement(), 'Done, I have saved the secret').click();
    await settle();
    expect(openDialog()).toBeNull();
    expect(navigate).not.toHaveBeenCalled();
  });

  it('leaves everything as it was when rotating is cancelled', async () => {
    buttonByText(card, 'Rotate secret').click();
    await settle();
    buttonByText(dialogElement(), 'Cancel').click();
    await settle();

    expect(openDialog()).toBeNull();
    http.expectNone('/api/v1/devices/pump-1/credentials');
  });

  it('deletes the device once its id is typed, then goes back to the fleet', async () => {
    buttonByText(card, 'Delete device').click();
    await settle();
    typeInto(dialogElement().querySelector('input'), 'pump-1');
    await settle();
    buttonByText(dialogElement(), 'Delete device').click();
    await settle();
    http
      .expectOne({ method: 'DELETE', url: '/api/v1/devices/pump-1' })
      .flush(null, { status: 204, statusText: 'No Content' });
    await settle();

    expect(openDialog()).toBeNull();
    expect(navigate).toHaveBeenCalledWith(['/']);
  });

  it('stays on the page when deleting is cancelled', async () => {
    buttonByText(card, 'Delete device').click();
    await settle();
    buttonByText(dialogElement(), 'Cancel').click();
    await settle();

    expect(openDialog()).toBeNull();
    expect(navigate).not.toHaveBeenCalled();
    http.expectNone('/api/v1/devices/pump-1');
  });
});
