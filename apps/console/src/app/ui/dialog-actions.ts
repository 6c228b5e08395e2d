import { booleanAttribute, ChangeDetectionStrategy, Component, input, output } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { MatDialogActions, MatDialogClose } from '@angular/material/dialog';

/**
 * A dialog's actions row: Cancel (closes with undefined) and the main button,
 * both disabled while the request is pending. The main button submits the
 * enclosing form, or with `type="button"` emits `confirmed` when clicked.
 */
@Component({
  selector: 'iot-dialog-actions',
  imports: [MatDialogActions, MatDialogClose, MatButton],
  template: `
    <mat-dialog-actions align="end">
      @if (focusCancel()) {
        <button mat-button type="button" [mat-dialog-close]="undefined" cdkFocusInitial [disabled]="pending()">
          Cancel
        </button>
      } @else {
        <button mat-button type="button" [mat-dialog-close]="undefined" [disabled]="pending()">Cancel</button>
      }
      <button
        mat-flat-button
        [type]="type()"
        [class]="buttonClass()"
        [disabled]="disabled() || pending()"
        (click)="click()"
      >
        {{ pending() ? pendingLabel() : label() }}
      </button>
    </mat-dialog-actions>
  `,
  styleUrl: './dialog-parts.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class DialogActions {
  readonly pending = input.required<boolean>();
  readonly label = input.required<string>();
  readonly pendingLabel = input.required<string>();
  /** Disables the main button, besides while pending (e.g. the form is not valid yet). */
  readonly disabled = input(false);
  readonly type = input<'submit' | 'button'>('submit');
  /** Classes of the main button: `danger` paints it in the error colour. */
  readonly buttonClass = input('');
  /** Cancel takes the first focus: for actions that cannot be undone. */
  readonly focusCancel = input(false, { transform: booleanAttribute });
  readonly confirmed = output<void>();

  protected click(): void {
    if (this.type() === 'button') this.confirmed.emit();
  }
}
