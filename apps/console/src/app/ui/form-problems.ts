import { ChangeDetectionStrategy, Component, input } from '@angular/core';

/**
 * A dialog's alerts: the list of what is wrong with the form (pass an empty
 * list until it has been submitted once) and the error of the last request.
 */
@Component({
  selector: 'iot-form-problems',
  template: `
    @if (problems().length > 0) {
      <ul class="banner error" role="alert" [attr.aria-label]="problemsLabel()">
        @for (p of problems(); track $index) {
          <li>{{ p }}</li>
        }
      </ul>
    }
    @if (error(); as message) {
      <p class="banner error" role="alert">{{ errorPrefix() }}{{ message }}</p>
    }
  `,
  styleUrl: './dialog-parts.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class FormProblems {
  readonly problems = input<readonly string[]>([]);
  /** The list's accessible name, if it has one. */
  readonly problemsLabel = input<string | null>(null);
  readonly error = input<string | null>(null);
  /** Put before the error, e.g. "Could not delete the user: ". */
  readonly errorPrefix = input('');
}
