import { HttpTestingController } from '@angular/common/http/testing';
import { signal } from '@angular/core';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { AuthService } from '../core/auth/auth.service';
import { aUser } from '../core/testing/factories';
import { strictMock } from '../core/testing/strict-mock';
import { USERS_URL } from '../core/users/users-api';
import { adminProviders, buttonByText, dialogElement, settle as settleApp, typeInto } from './testing';
import { UsersPage } from './users.page';

describe('UsersPage', () => {
  let fixture: ComponentFixture<UsersPage>;
  let http: HttpTestingController;
  let page: HTMLElement;

  const row = (username: string) => page.querySelector<HTMLElement>(`tr[data-username="${username}"]`);
  const usernames = () => [...page.querySelectorAll('tbody th')].map((th) => th.childNodes[0].textContent?.trim());
  async function settle(): Promise<void> {
    await settleApp();
    await fixture.whenStable();
  }
  const BODY_ERROR = (message: string, status: number) => ({ statusCode: status, error: 'Error', message });

  beforeEach(async () => {
    TestBed.configureTestingModule({
      imports: [UsersPage],
      providers: [
        ...adminProviders(),
        {
          provide: AuthService,
          useValue: strictMock<AuthService>({ user: signal(aUser({ username: 'root', role: 'admin' })) }, 'Auth'),
        },
      ],
    });
    http = TestBed.inject(HttpTestingController);
    fixture = TestBed.createComponent(UsersPage);
    page = fixture.nativeElement as HTMLElement;
    await settle();
    http.expectOne(USERS_URL).flush([
      { username: 'zoe', role: 'viewer', scope: null },
      { username: 'root', role: 'admin', scope: null },
      { username: 'ada', role: 'operator', scope: 'site=a' },
    ]);
    await settle();
  });

  afterEach(() => http.verify());

  it('lists the users by name, without controls on your own row', () => {
    expect(usernames()).toEqual(['ada', 'root', 'zoe']);
    expect(row('ada')?.querySelector('select')?.value).toBe('operator');
    expect(row('root')?.textContent).toContain('(you)');
    expect(row('root')?.querySelector('select')).toBeNull();
    expect(row('root')?.querySelector('button')).toBeNull();
    expect(row('ada')?.querySelectorAll('button')).toHaveLength(3);
    expect(row('ada')?.querySelector('.scope')?.textContent?.trim()).toBe('site=a');
    expect(row('zoe')?.querySelector('.scope')?.textContent?.trim()).toBe('every device');
    expect(row('root')?.querySelector('.scope')?.textContent?.trim()).toBe('every device (admin)');
  });

  it('creates a user in a dialog and lists it', async () => {
    buttonByText(page, 'New user').click();
    await settle();
    const dialog = dialogElement();
    const create = buttonByText(dialog, 'Create user');
    typeInto(dialog.querySelector('input[name="username"]'), 'grace');
    typeInto(dialog.querySelector('input[name="new-password"]'), 'short');
    await settle();
    expect(create.disabled).toBe(true);
    typeInto(dialog.querySelector('input[name="new-password"]'), 'a-long-enough-pw');
    const role = dialog.querySelector<HTMLSelectElement>('select[name="role"]') as HTMLSelectElement;
    role.value = 'operator';
    role.dispatchEvent(new Event('change'));
    await settle();
    create.click();
    await settle();

    const request = http.expectOne(USERS_URL);
    expect(request.request.method).toBe('POST');
    expect(request.request.body).toEqual({ username: 'grace', password: 'a-long-enough-pw', role: 'operator' });
    request.flush({ username: 'grace', role: 'operator' }, { status: 201, statusText: 'Created' });
    await settle();
    http.expectOne(USERS_URL).flush([{ username: 'grace', role: 'operator' }]);
    await settle();

    expect(document.querySelector('mat-dialog-container')).toBeNull();
    expect(usernames()).toEqual(['grace']);
    expect(page.querySelector('[role="status"]')?.textContent).toContain('Created grace (operator).');
  });

  it('creates a user limited to a scope, refusing one that is no label selector', async () => {
    buttonByText(page, 'New user').click();
    await settle();
    const dialog = dialogElement();
    const create = buttonByText(dialog, 'Create user');
    typeInto(dialog.querySelector('input[name="username"]'), 'sam');
    typeInto(dialog.querySelector('input[name="new-password"]'), 'a-long-enough-pw');
    typeInto(dialog.querySelector('input[name="scope"]'), 'site');
    await settle();
    expect(create.disabled).toBe(true);
    expect(dialog.textContent).toContain('a label selector is key=value pairs');
    typeInto(dialog.querySelector('input[name="scope"]'), ' site=a,floor=2 ');
    await settle();
    expect(dialog.textContent).toContain('Only devices labelled site=a,floor=2');
    create.click();
    await settle();

    const request = http.expectOne(USERS_URL);
    expect(request.request.body).toEqual({
      username: 'sam',
      password: 'a-long-enough-pw',
      role: 'viewer',
      scope: 'site=a,floor=2',
    });
    request.flush({ username: 'sam', role: 'viewer', scope: 'site=a,floor=2' }, { status: 201, statusText: 'Created' });
    await settle();
    http.expectOne(USERS_URL).flush([{ username: 'sam', role: 'viewer', scope: 'site=a,floor=2' }]);
    await settle();
    expect(row('sam')?.querySelector('.scope')?.textContent?.trim()).toBe('site=a,floor=2');
  });

  it("sets a user's scope in a dialog, and lifts it with an empty one", async () => {
    buttonByText(row('zoe') as HTMLElement, 'Scope').click();
    await settle();
    let dialog = dialogElement();
    const save = buttonByText(dialog, 'Set scope');
    expect(save.disabled).toBe(true);
    typeInto(dialog.querySelector('input[name="scope"]'), 'site=b');
    await settle();
    save.click();
    await settle();
    let request = http.expectOne(`${USERS_URL}/zoe`);
    expect(request.request.method).toBe('PATCH');
    expect(request.request.body).toEqual({ scope: 'site=b' });
    request.flush(null, { status: 204, statusText: 'No Content' });
    await settle();
    expect(document.querySelector('mat-dialog-container')).toBeNull();
    expect(row('zoe')?.querySelector('.scope')?.textContent?.trim()).toBe('site=b');
    expect(page.querySelector('[role="status"]')?.textContent).toContain('zoe now sees devices labelled site=b');

    buttonByText(row('ada') as HTMLElement, 'Scope').click();
    await settle();
    dialog = dialogElement();
    expect(dialog.querySelector<HTMLInputElement>('input[name="scope"]')?.value).toBe('site=a');
    typeInto(dialog.querySelector('input[name="scope"]'), '');
    await settle();
    buttonByText(dialog, 'Set scope').click();
    await settle();
    request = http.expectOne(`${USERS_URL}/ada`);
    expect(request.request.body).toEqual({ scope: null });
    request.flush(null, { status: 204, statusText: 'No Content' });
    await settle();
    expect(row('ada')?.querySelector('.scope')?.textContent?.trim()).toBe('every device');
  });

  it("shows the api's message when the name is taken, keeping the dialog open", async () => {
    buttonByText(page, 'New user').click();
    await settle();
    const dialog = dialogElement();
    typeInto(dialog.querySelector('input[name="username"]'), 'ada');
    typeInto(dialog.querySelector('input[name="new-password"]'), 'a-long-enough-pw');
    await settle();
    buttonByText(dialog, 'Create user').click();
    await settle();
    http.expectOne(USERS_URL).flush(BODY_ERROR('user exists', 409), { status: 409, statusText: 'Conflict' });
    await settle();

    expect(dialog.querySelector('[role="alert"]')?.textContent).toContain('the username ada is taken');
    buttonByText(dialog, 'Cancel').click();
    await settle();
  });

  it('changes a role, and puts it back when the api refuses', async () => {
    const select = row('zoe')?.querySelector('select') as HTMLSelectElement;
    select.value = 'admin';
    select.dispatchEvent(new Event('change'));
    const request = http.expectOne(`${USERS_URL}/zoe`);
    expect(request.request.method).toBe('PATCH');
    expect(request.request.body).toEqual({ role: 'admin' });
    request.flush(null, { status: 204, statusText: 'No Content' });
    await settle();
    expect(page.querySelector('[role="status"]')?.textContent).toContain('zoe is now admin');

    const ada = row('ada')?.querySelector('select') as HTMLSelectElement;
    ada.value = 'viewer';
    ada.dispatchEvent(new Event('change'));
    http
      .expectOne(`${USERS_URL}/ada`)
      .flush(BODY_ERROR('the last admin cannot be demoted', 400), { status: 400, statusText: 'Bad Request' });
    await settle();
    expect(ada.value).toBe('operator');
    expect(page.querySelector('[role="alert"]')?.textContent).toContain('the last admin cannot be demoted');
  });

  it('resets a password in a dialog', async () => {
    buttonByText(row('ada') as HTMLElement, 'Reset password').click();
    await settle();
    const dialog = dialogElement();
    expect(dialog.textContent).toContain('ada');
    typeInto(dialog.querySelector('input[name="new-password"]'), 'another-long-pw');
    await settle();
    buttonByText(dialog, 'Set password').click();
    await settle();
    const request = http.expectOne(`${USERS_URL}/ada`);
    expect(request.request.method).toBe('PATCH');
    expect(request.request.body).toEqual({ password: 'another-long-pw' });
    request.flush(null, { status: 204, statusText: 'No Content' });
    await settle();
    expect(document.querySelector('mat-dialog-container')).toBeNull();
    expect(page.querySelector('[role="status"]')?.textContent).toContain('The password of ada is set');
  });

  it('deletes a user after asking, with Cancel focused first', async () => {
    buttonByText(row('zoe') as HTMLElement, 'Delete').click();
    await settle();
    const dialog = dialogElement();
    expect(dialog.getAttribute('role')).toBe('alertdialog');
    expect(document.activeElement).toBe(buttonByText(dialog, 'Cancel'));
    buttonByText(dialog, 'Delete user').click();
    await settle();
    const request = http.expectOne(`${USERS_URL}/zoe`);
    expect(request.request.method).toBe('DELETE');
    request.flush(null, { status: 204, statusText: 'No Content' });
    await settle();
    expect(usernames()).toEqual(['ada', 'root']);
  });

  it("says why the list did not load, with the api's message", async () => {
    fixture.destroy();
    const again = TestBed.createComponent(UsersPage);
    await settleApp();
    http.expectOne(USERS_URL).flush(BODY_ERROR('admins only', 403), { status: 403, statusText: 'Forbidden' });
    await again.whenStable();
    expect((again.nativeElement as HTMLElement).querySelector('[role="alert"]')?.textContent).toContain(
      'Could not load the users: admins only',
    );
  });
});
