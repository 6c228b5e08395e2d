import { InteractivityChecker } from '@angular/cdk/a11y';
import { Clipboard } from '@angular/cdk/clipboard';
import { provideHttpClient } from '@angular/common/http';
import { provideHttpClientTesting } from '@angular/common/http/testing';
import { ApplicationRef, type EnvironmentProviders, Injectable, type Provider, signal } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { MATERIAL_ANIMATIONS } from '@angular/material/core';
import { provideRouter } from '@angular/router';
import type { DeviceCredentials, DeviceView, Role } from '@iot/protocol';
import { AuthService } from '../core/auth/auth.service';
import { aUser } from '../core/testing/factories';
import { strictMock } from '../core/testing/strict-mock';
import { type BrokerAddress, BrokerDirectory, MQTT_BROKER } from './broker';

/** Test doubles and helpers for the admin specs. */

export const BROKER: BrokerAddress = { host: 'iot.example', port: 1883, guessed: true };

export function aDeviceView(overrides: Partial<DeviceView> & Pick<DeviceView, 'id'>): DeviceView {
  return {
    name: `Device ${overrides.id}`,
    type: null,
    labels: {},
    online: false,
    lastSeen: null,
    createdAt: 1,
    ...overrides,
  };
}

export function someCredentials(username: string, password = 'Zx9-secret_Q'): DeviceCredentials {
  return { username, password };
}

/** An AuthService whose user has `role` (or nobody is signed in); the user can be changed later. */
export function fakeAuth(role: Role | null): { auth: AuthService; setRole: (role: Role | null) => void } {
  const user = signal(role ? aUser({ role }) : null);
  return {
    auth: strictMock<AuthService>({ user }, 'AuthService'),
    setRole: (next) => user.set(next ? aUser({ role: next }) : null),
  };
}

/** A Clipboard that records what was copied and answers `result`. */
export function fakeClipboard(result = true): { clipboard: Clipboard; copied: string[] } {
  const copied: string[] = [];
  const clipboard = strictMock<Clipboard>(
    {
      copy: (text: string) => {
        copied.push(text);
        return result;
      },
    },
    'Clipboard',
  );
  return { clipboard, copied };
}

/**
 * jsdom lays nothing out, so the CDK would find no element visible and no
 * dialog could move the focus; here every element counts as visible.
 */
@Injectable()
class LayoutFreeInteractivityChecker extends InteractivityChecker {
  override isVisible(): boolean {
    return true;
  }
}

/** What every admin spec needs: HTTP testing, a router, a fixed broker, dialogs without animations that can focus. */
export function adminProviders(): Array<Provider | EnvironmentProviders> {
  return [
    provideHttpClient(),
    provideHttpClientTesting(),
    provideRouter([]),
    { provide: MQTT_BROKER, useValue: BROKER },
    { provide: BrokerDirectory, useValue: { address: signal(BROKER) } },
    { provide: MATERIAL_ANIMATIONS, useValue: { animationsDisabled: true } },
    { provide: InteractivityChecker, useClass: LayoutFreeInteractivityChecker },
  ];
}

/** Waits until rendering (and afterNextRender hooks) is done, dialogs included. */
export async function settle(): Promise<void> {
  await TestBed.inject(ApplicationRef).whenStable();
}

/** The open dialog's element (dialogs live in the overlay container, outside any fixture). */
export function dialogElement(): HTMLElement {
  const element = document.querySelector<HTMLElement>('mat-dialog-container');
  if (!element) throw new Error('no dialog is open');
  return element;
}

export function buttonByText(root: ParentNode, text: string): HTMLButtonElement {
  const button = Array.from(root.querySelectorAll<HTMLButtonElement>('button')).find(
    (b) => b.textContent?.replace(/\s+/g, ' ').trim() === text,
  );
  if (!button) throw new Error(`no button "${text}"`);
  return button;
}

/** Types into an input as a person would: value, input event, then blur (so the field counts as touched). */
export function typeInto(input: HTMLInputElement | null, value: string): void {
  if (!input) throw new Error('no such input');
  input.value = value;
  input.dispatchEvent(new Event('input'));
  input.dispatchEvent(new Event('blur'));
}
