import { ChangeDetectionStrategy, Component, input } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { MatProgressBar } from '@angular/material/progress-bar';
import type { PageList } from './page-list';

/** A page list's loading bar and its error banner, with a button that loads it again. */
@Component({
  selector: 'iot-list-status',
  imports: [MatButton, MatProgressBar],
  template: `
    @if (list().loading()) {
      <mat-progress-bar mode="indeterminate" [attr.aria-label]="label()" />
    }
    @if (list().error(); as message) {
      <div class="banner error" role="alert">
        <span>{{ message }}</span>
        <button mat-button type="button" (click)="list().reload()">Reload</button>
      </div>
    }
  `,
  styles: ':host { display: block; }',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class ListStatus {
  readonly list = input.required<PageList<unknown>>();
  /** The loading bar's name, e.g. "Loading users". */
  readonly label = input.required<string>();
}
