import { ChangeDetectionStrategy, Component, input } from '@angular/core';
import type { AlarmSeverity } from '@iot/protocol';

/** An alarm's severity as a coloured chip; the word is always written, so colour is never the only cue. */
@Component({
  selector: 'iot-severity',
  template: `{{ severity() }}`,
  styles: `
    :host {
      display: inline-block;
      padding: 0 8px;
      border-radius: 10px;
      font: var(--mat-sys-label-medium);
      line-height: 20px;
      white-space: nowrap;
      color: #fff;
    }
    :host(.critical) {
      background: #a4161a;
    }
    :host(.major) {
      background: #b3401c;
    }
    :host(.minor) {
      background: #7a5a00;
    }
    :host(.warning) {
      background: #35507a;
    }
  `,
  changeDetection: ChangeDetectionStrategy.OnPush,
  host: { '[class]': 'severity()' },
})
export class SeverityChip {
  readonly severity = input.required<AlarmSeverity>();
}
