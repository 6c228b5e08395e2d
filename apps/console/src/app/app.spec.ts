import { provideHttpClient } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { provideRouter, Router } from '@angular/router';
import { App } from './app';
import { ALARMS_URL } from './core/alarms/alarms-api';
import { LOGOUT_URL, SESSION_STORAGE_KEY } from './core/auth/auth.service';
import { SESSION_STORAGE } from './core/browser';
import { EVENT_SOURCE_FACTORY } from './core/stream/event-source';
import { fakeEventSources } from './core/testing/fake-event-source';
import { alarmMessage, anAlarm, aUser } from './core/testing/factories';
import { MemoryStorage } from './core/testing/memory-storage';

describe('App (shell)', () => {
  let fixture: ComponentFixture<App>;
  let sources: ReturnType<typeof fakeEventSources>;
  let storage: MemoryStorage;
  let shell: HTMLElement;

  const status = () => shell.querySelector('[role="status"]')?.textContent?.trim();

  async function render(): Promise<void> {
    TestBed.configureTestingModule({
      imports: [App],
      providers: [
        provideHttpClient(),
        provideHttpClientTesting(),
        provideRouter([]),
        { provide: SESSION_STORAGE, useValue: storage },
        { provide: EVENT_SOURCE_FACTORY, useValue: sources.factory },
      ],
    });
    jest.spyOn(TestBed.inject(Router), 'navigate').mockResolvedValue(true);
    fixture = TestBed.createComponent(App);
    shell = fixture.nativeElement as HTMLElement;
    await fixture.whenStable();
  }

  beforeEach(() => {
    sources = fakeEventSources();
    storage = new MemoryStorage();
  });

  it('shows the connection state as offline, and opens no stream, when nobody is signed in', async () => {
    await render();
    expect(status()).toBe('Offline');
    expect(sources.created).toHaveLength(0);
    expect(shell.textContent).not.toContain('Sign out');
  });

  it('opens the stream for a signed-in user and shows its state in the toolbar', async () => {
    storage.setItem(SESSION_STORAGE_KEY, JSON.stringify({ user: aUser({ username: 'ada' }), expiresAt: Date.now() + 60_000 }));
    await render();

    expect(sources.created).toHaveLength(1);
    expect(status()).toBe('Connecting…');
    expect(shell.querySelector('.username')?.textContent).toBe('ada');

    sources.latest().open();
    await fixture.whenStable();
    expect(status()).toBe('Live');
  });

  it('closes the stream on sign out', async () => {
    storage.setItem(SESSION_STORAGE_KEY, JSON.stringify({ user: aUser(), expiresAt: Date.now() + 60_000 }));
    await render();
    sources.latest().open();

    const signOut = [...shell.querySelectorAll('button')].find((b) => b.textContent?.trim() === 'Sign out');
    signOut?.click();
    TestBed.inject(HttpTestingController).expectOne(LOGOUT_URL).flush(null);
    await fixture.whenStable();

    expect(sources.latest().closed).toBe(true);
    expect(status()).toBe('Offline');
    expect(shell.textContent).not.toContain('Sign out');
  });

  it('links the admin pages for admins only', async () => {
    storage.setItem(SESSION_STORAGE_KEY, JSON.stringify({ user: aUser({ role: 'operator' }), expiresAt: Date.now() + 60_000 }));
    await render();
    expect(shell.querySelector('nav[aria-label="Administration"]')).toBeNull();
    expect(shell.textContent).toContain('Password');
  });

  it('shows the open-alarm count in the navigation, moved live by alarm events', async () => {
    storage.setItem(SESSION_STORAGE_KEY, JSON.stringify({ user: aUser(), expiresAt: Date.now() + 60_000 }));
    await render();
    const badge = () => shell.querySelector('[data-testid="alarm-badge"]')?.textContent?.trim() ?? null;
    const http = TestBed.inject(HttpTestingController);
    http
      .expectOne((request) => request.url === ALARMS_URL && request.params.get('active') === 'true')
      .flush({ items: [anAlarm({ id: 'a1' }), anAlarm({ id: 'a2' })], nextCursor: null });
    await fixture.whenStable();
    expect(badge()).toBe('2');

    sources.latest().open();
    sources.latest().emit('alarm', alarmMessage('a3', 'raised').data, '7');
    await fixture.whenStable();
    expect(badge()).toBe('3');

    for (const id of ['a1', 'a2', 'a3']) sources.latest().emit('alarm', alarmMessage(id, 'cleared').data);
    await fixture.whenStable();
    expect(badge()).toBeNull();
    expect(shell.querySelector('a[href="/alarms"]')?.textContent?.trim()).toBe('Alarms');
  });

  it('shows an admin the Users, Webhooks and Audit log pages', async () => {
    storage.setItem(SESSION_STORAGE_KEY, JSON.stringify({ user: aUser({ role: 'admin' }), expiresAt: Date.now() + 60_000 }));
    await render();
    const links = [...shell.querySelectorAll('nav[aria-label="Administration"] a')];
    expect(links.map((a) => [a.textContent?.trim(), a.getAttribute('href')])).toEqual([
      ['Users', '/admin/users'],
      ['Webhooks', '/admin/webhooks'],
      ['Audit log', '/admin/audit'],
    ]);
  });
});
