import { provideHttpClient } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { provideRouter, Router } from '@angular/router';
import { LOGIN_URL } from '../core/auth/auth.service';
import { SESSION_STORAGE } from '../core/browser';
import { aLoginResponse } from '../core/testing/factories';
import { MemoryStorage } from '../core/testing/memory-storage';
import { LoginPage, safeReturnUrl } from './login.page';

describe('LoginPage', () => {
  let fixture: ComponentFixture<LoginPage>;
  let http: HttpTestingController;
  let navigateByUrl: jest.SpyInstance;
  let page: HTMLElement;

  const input = (name: string) => page.querySelector<HTMLInputElement>(`input[formcontrolname="${name}"]`);
  const text = () => page.textContent ?? '';

  function type(name: string, value: string): void {
    const element = input(name);
    if (!element) throw new Error(`no ${name} input`);
    element.value = value;
    element.dispatchEvent(new Event('input'));
  }

  async function submit(): Promise<void> {
    page.querySelector<HTMLButtonElement>('button[type="submit"]')?.click();
    await fixture.whenStable();
  }

  beforeEach(async () => {
    TestBed.configureTestingModule({
      imports: [LoginPage],
      providers: [
        provideHttpClient(),
        provideHttpClientTesting(),
        provideRouter([]),
        { provide: SESSION_STORAGE, useValue: new MemoryStorage() },
      ],
    });
    http = TestBed.inject(HttpTestingController);
    navigateByUrl = jest.spyOn(TestBed.inject(Router), 'navigateByUrl').mockResolvedValue(true);
    fixture = TestBed.createComponent(LoginPage);
    page = fixture.nativeElement as HTMLElement;
    await fixture.whenStable();
  });

  afterEach(() => http.verify());

  it('has labelled fields the browser can fill in', () => {
    const labels = [...page.querySelectorAll('mat-label')].map((label) => label.textContent?.trim());
    expect(labels).toEqual(['Username', 'Password']);
    expect(input('username')?.getAttribute('autocomplete')).toBe('username');
    expect(input('password')?.getAttribute('autocomplete')).toBe('current-password');
    expect(input('password')?.type).toBe('password');
  });

  it('shows what is missing instead of sending an empty form', async () => {
    await submit();

    expect(text()).toContain('Enter your username.');
    expect(text()).toContain('Enter your password.');
    expect(document.activeElement).toBe(input('username'));
    http.expectNone(LOGIN_URL);
  });

  it('signs in and goes back to the page that asked for it', async () => {
    fixture.componentRef.setInput('returnUrl', '/devices/pump-1');
    type('username', 'ada');
    type('password', 'secret');
    await submit();

    const request = http.expectOne(LOGIN_URL);
    expect(request.request.body).toEqual({ username: 'ada', password: 'secret' });
    expect(text()).toContain('Signing in…');
    request.flush(aLoginResponse());
    await fixture.whenStable();

    expect(navigateByUrl).toHaveBeenCalledWith('/devices/pump-1');
  });

  it('says the credentials are wrong on a 401, clears the password and keeps the username', async () => {
    type('username', 'ada');
    type('password', 'nope');
    await submit();
    http.expectOne(LOGIN_URL).flush({ message: 'Unauthorized' }, { status: 401, statusText: 'Unauthorized' });
    await fixture.whenStable();

    expect(page.querySelector('[role="alert"]')?.textContent?.trim()).toBe('Wrong username or password.');
    expect(input('username')?.value).toBe('ada');
    expect(input('password')?.value).toBe('');
    expect(document.activeElement).toBe(input('password'));
    expect(navigateByUrl).not.toHaveBeenCalled();
  });

  it('says when the platform cannot be reached', async () => {
    type('username', 'ada');
    type('password', 'pw');
    await submit();
    http.expectOne(LOGIN_URL).error(new ProgressEvent('error'));
    await fixture.whenStable();

    expect(page.querySelector('[role="alert"]')?.textContent).toContain('Cannot reach the platform');
  });

  it('shows and hides the password', async () => {
    const toggle = page.querySelector<HTMLButtonElement>('button[aria-label="Show password"]');
    toggle?.click();
    await fixture.whenStable();

    expect(input('password')?.type).toBe('text');
    expect(toggle?.getAttribute('aria-label')).toBe('Hide password');
    expect(toggle?.getAttribute('aria-pressed')).toBe('true');
  });
});

describe('safeReturnUrl', () => {
  it.each([
    [undefined, '/'],
    ['/devices/a?x=1', '/devices/a?x=1'],
    ['https://evil.example', '/'],
    ['//evil.example', '/'],
    ['/\\evil.example', '/'],
    ['/login?returnUrl=/x', '/'],
  ])('%p → %p', (value, expected) => {
    expect(safeReturnUrl(value)).toBe(expected);
  });
});
