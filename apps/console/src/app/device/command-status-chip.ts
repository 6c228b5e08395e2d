import { ChangeDetectionStrategy, Component, input } from '@angular/core';
import type { CommandStatus } from '@iot/protocol';

/** A command's status as a coloured chip (the word is always shown, colour is never the only cue). */
@Component({
  selector: 'iot-command-status-chip',
  changeDetection: ChangeDetectionStrategy.OnPush,
  host: { class: 'chip', '[attr.data-status]': 'status()' },
  template: `{{ status() }}`,
  styles: `
    :host {
      display: inline-block;
      padding: 1px 10px;
      border-radius: 999px;
      font: var(--mat-sys-label-medium);
      white-space: nowrap;
      background: var(--mat-sys-surface-container-high);
      color: var(--mat-sys-on-surface);
      border: 1px solid var(--mat-sys-outline-variant);
    }
    :host([data-status='succeeded']) {
      background: color-mix(in srgb, var(--iot-online) 20%, transparent);
      border-color: var(--iot-online);
    }
    :host([data-status='failed']),
    :host([data-status='timed-out']),
    :host([data-status='expired']) {
      background: var(--mat-sys-error-container);
      color: var(--mat-sys-on-error-container);
      border-color: var(--mat-sys-error);
    }
    :host([data-status='accepted']),
    :host([data-status='in-progress']),
    :host([data-status='sent']) {
      background: var(--mat-sys-secondary-container);
      color: var(--mat-sys-on-secondary-container);
    }
  `,
})
export class CommandStatusChip {
  readonly status = input.required<CommandStatus>();
}
