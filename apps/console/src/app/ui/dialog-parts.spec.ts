import { ChangeDetectionStrategy, Component, signal } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { MatDialogRef } from '@angular/material/dialog';
import { DialogActions } from './dialog-actions';
import { FormProblems } from './form-problems';

describe('FormProblems', () => {
  function render(inputs: Record<string, unknown>): HTMLElement {
    const sut = TestBed.createComponent(FormProblems);
    for (const [name, value] of Object.entries(inputs)) sut.componentRef.setInput(name, value);
    sut.detectChanges();
    return sut.nativeElement as HTMLElement;
  }

  it('shows nothing without problems or error', () => {
    expect(render({}).querySelector('[role="alert"]')).toBeNull();
  });

  it('lists the problems in one alert, named when asked', () => {
    const list = render({
      problems: ['Name is missing.', 'Threshold is not a number.'],
      problemsLabel: 'What is wrong',
    }).querySelector('ul.banner.error[role="alert"]');
    expect([...(list?.querySelectorAll('li') ?? [])].map((li) => li.textContent)).toEqual([
      'Name is missing.',
      'Threshold is not a number.',
    ]);
    expect(list?.getAttribute('aria-label')).toBe('What is wrong');
  });

  it('leaves the list unnamed by default', () => {
    expect(
      render({ problems: ['x'] })
        .querySelector('ul')
        ?.hasAttribute('aria-label'),
    ).toBe(false);
  });

  it('shows the error after its prefix', () => {
    const banner = render({ error: 'timed out', errorPrefix: 'Could not delete the user: ' }).querySelector(
      'p.banner.error[role="alert"]',
    );
    expect(banner?.textContent).toBe('Could not delete the user: timed out');
  });
});

@Component({
  imports: [DialogActions],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <form (submit)="submits = submits + 1; $event.preventDefault()">
      <iot-dialog-actions
        [pending]="pending()"
        label="Delete user"
        pendingLabel="Deleting…"
        [disabled]="disabled()"
        [type]="type()"
        buttonClass="danger"
        [focusCancel]="focusCancel()"
        (confirmed)="confirms = confirms + 1"
      />
    </form>
  `,
})
class Host {
  readonly pending = signal(false);
  readonly disabled = signal(false);
  readonly type = signal<'submit' | 'button'>('submit');
  readonly focusCancel = signal(false);
  submits = 0;
  confirms = 0;
}

describe('DialogActions', () => {
  const close = jest.fn();

  function render(): { host: Host; element: HTMLElement; detect: () => void } {
    TestBed.configureTestingModule({ providers: [{ provide: MatDialogRef, useValue: { close } }] });
    const fixture = TestBed.createComponent(Host);
    fixture.detectChanges();
    return { host: fixture.componentInstance, element: fixture.nativeElement, detect: () => fixture.detectChanges() };
  }

  function buttons(element: HTMLElement): HTMLButtonElement[] {
    return [...element.querySelectorAll<HTMLButtonElement>('mat-dialog-actions button')];
  }

  beforeEach(() => close.mockReset());

  it('renders Cancel and the main button, which submits the form', () => {
    const { host, element } = render();
    const [cancel, main] = buttons(element);
    expect(cancel.textContent?.trim()).toBe('Cancel');
    expect(cancel.type).toBe('button');
    expect(main.textContent?.trim()).toBe('Delete user');
    expect(main.type).toBe('submit');
    expect(main.classList).toContain('danger');
    main.click();
    expect(host.submits).toBe(1);
    expect(host.confirms).toBe(0);
  });

  it('closes with undefined on Cancel', () => {
    const { element } = render();
    buttons(element)[0].click();
    expect(close).toHaveBeenCalledWith(undefined);
  });

  it('emits confirmed instead of submitting when a plain button', () => {
    const { host, element, detect } = render();
    host.type.set('button');
    detect();
    buttons(element)[1].click();
    expect(host.confirms).toBe(1);
    expect(host.submits).toBe(0);
  });

  it('disables both buttons and shows the pending label while pending', () => {
    const { host, element, detect } = render();
    host.pending.set(true);
    detect();
    const [cancel, main] = buttons(element);
    expect(cancel.disabled).toBe(true);
    expect(main.disabled).toBe(true);
    expect(main.textContent?.trim()).toBe('Deleting…');
  });

  it('disables only the main button when not ready', () => {
    const { host, element, detect } = render();
    host.disabled.set(true);
    detect();
    const [cancel, main] = buttons(element);
    expect(cancel.disabled).toBe(false);
    expect(main.disabled).toBe(true);
  });

  it('gives Cancel the first focus when asked', () => {
    const { host, element, detect } = render();
    expect(buttons(element)[0].hasAttribute('cdkfocusinitial')).toBe(false);
    host.focusCancel.set(true);
    detect();
    expect(buttons(element)[0].hasAttribute('cdkfocusinitial')).toBe(true);
  });
});
