import { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { MatDialog } from '@angular/material/dialog';
import { adminProviders, buttonByText, dialogElement, settle, typeInto } from '../admin/testing';
import { AuthService } from '../core/auth/auth.service';
import { strictMock } from '../core/testing/strict-mock';
import { OWN_PASSWORD_URL } from '../core/users/users-api';
import { openChangePasswordDialog } from './change-password-dialog';

describe('ChangePasswordDialog', () => {
  let http: HttpTestingController;
  let sessionEnded: jest.Mock;
  let closedWith: { value: true | undefined } | undefined;

  beforeEach(async () => {
    sessionEnded = jest.fn();
    TestBed.configureTestingModule({
      providers: [...adminProviders(), { provide: AuthService, useValue: strictMock<AuthService>({ sessionEnded }) }],
    });
    http = TestBed.inject(HttpTestingController);
    closedWith = undefined;
    openChangePasswordDialog(TestBed.inject(MatDialog))
      .afterClosed()
      .subscribe((value) => (closedWith = { value }));
    await settle();
  });

  afterEach(() => http.verify());

  async function fill(current: string, next: string): Promise<void> {
    typeInto(dialogElement().querySelector('input[name="current-password"]'), current);
    typeInto(dialogElement().querySelector('input[name="new-password"]'), next);
    await settle();
  }

  it('needs the current password and a long enough new one', async () => {
    const submit = buttonByText(dialogElement(), 'Change password');
    await fill('', 'a-long-enough-pw');
    expect(submit.disabled).toBe(true);
    await fill('old-password', 'too-short');
    expect(submit.disabled).toBe(true);
    await fill('old-password', 'a-long-enough-pw');
    expect(submit.disabled).toBe(false);
  });

  it('changes the password, then ends the session here and shows the login page', async () => {
    await fill('old-password', 'a-long-enough-pw');
    buttonByText(dialogElement(), 'Change password').click();
    await settle();
    const request = http.expectOne(OWN_PASSWORD_URL);
    expect(request.request.method).toBe('POST');
    expect(request.request.body).toEqual({ currentPassword: 'old-password', newPassword: 'a-long-enough-pw' });
    expect(sessionEnded).not.toHaveBeenCalled();
    request.flush(null, { status: 204, statusText: 'No Content' });
    await settle();

    expect(closedWith).toEqual({ value: true });
    expect(sessionEnded).toHaveBeenCalledTimes(1);
  });

  it("shows the api's message when the current password is wrong, and stays signed in", async () => {
    await fill('wrong-password', 'a-long-enough-pw');
    buttonByText(dialogElement(), 'Change password').click();
    await settle();
    http
      .expectOne(OWN_PASSWORD_URL)
      .flush(
        { statusCode: 400, error: 'Bad Request', message: 'the current password is wrong' },
        { status: 400, statusText: 'Bad Request' },
      );
    await settle();

    expect(dialogElement().querySelector('[role="alert"]')?.textContent).toContain('the current password is wrong');
    expect(closedWith).toBeUndefined();
    expect(sessionEnded).not.toHaveBeenCalled();
  });
});
