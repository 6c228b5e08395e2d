import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { MAT_DIALOG_DATA, MatDialog, MatDialogContent, MatDialogRef, MatDialogTitle } from '@angular/material/dialog';
import { MatFormField, MatHint, MatLabel } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import { type AlarmView, MAX_ALARM_NOTE } from '@iot/protocol';
import type { Observable } from 'rxjs';
import { AlarmsApi } from '../core/alarms/alarms-api';
import { describeHttpError } from '../core/http-error';
import { dialogSize } from '../admin/dialog-size';
import { DialogActions } from '../ui/dialog-actions';
import { FormProblems } from '../ui/form-problems';

export type AlarmAction = 'acknowledge' | 'clear';

export interface AlarmActionData {
  alarm: AlarmView;
  action: AlarmAction;
}

/** Acknowledges or clears an alarm with an optional note; closes with the alarm as the api answered. */
@Component({
  selector: 'iot-alarm-action-dialog',
  imports: [MatDialogTitle, MatDialogContent, MatFormField, MatLabel, MatHint, MatInput, DialogActions, FormProblems],
  template: `
    <h2 mat-dialog-title>{{ data.action === 'acknowledge' ? 'Acknowledge the alarm' : 'Clear the alarm' }}</h2>
    <form class="form" novalidate (submit)="submit($event)">
      <mat-dialog-content>
        <p class="lead">
          <strong>{{ data.alarm.ruleName }}</strong> on {{ data.alarm.deviceId }}: {{ data.alarm.message }}
        </p>
        <mat-form-field appearance="outline" subscriptSizing="dynamic">
          <mat-label>Note</mat-label>
          <textarea
            matInput
            name="note"
            rows="3"
            [attr.maxlength]="maxNote"
            [value]="note()"
            [readonly]="pending()"
            (input)="note.set($any($event.target).value)"
          ></textarea>
          <mat-hint>Optional; kept with the alarm and in the audit log</mat-hint>
        </mat-form-field>
        <iot-form-problems [error]="error()" />
      </mat-dialog-content>
      <iot-dialog-actions
        [pending]="pending()"
        [label]="data.action === 'acknowledge' ? 'Acknowledge' : 'Clear'"
        pendingLabel="Saving…"
      />
    </form>
  `,
  styleUrl: '../admin/admin-dialog.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class AlarmActionDialog {
  private readonly api = inject(AlarmsApi);
  private readonly dialogRef = inject<MatDialogRef<AlarmActionDialog, AlarmView>>(MatDialogRef);
  protected readonly data = inject<AlarmActionData>(MAT_DIALOG_DATA);
  protected readonly maxNote = MAX_ALARM_NOTE;
  protected readonly note = signal('');
  protected readonly pending = signal(false);
  protected readonly error = signal<string | null>(null);

  protected submit(event: Event): void {
    event.preventDefault();
    if (this.pending()) return;
    this.pending.set(true);
    this.error.set(null);
    const { alarm, action } = this.data;
    const request =
      action === 'acknowledge' ? this.api.acknowledge(alarm.id, this.note()) : this.api.clear(alarm.id, this.note());
    request.subscribe({
      next: (answer) => this.dialogRef.close(answer),
      error: (error: unknown) => {
        this.pending.set(false);
        const verb = action === 'acknowledge' ? 'acknowledge' : 'clear';
        this.error.set(`Could not ${verb} it: ${describeHttpError(error)}`);
      },
    });
  }
}

export function openAlarmActionDialog(dialog: MatDialog, data: AlarmActionData): Observable<AlarmView | undefined> {
  return dialog
    .open<AlarmActionDialog, AlarmActionData, AlarmView>(AlarmActionDialog, { ...dialogSize('30rem'), data })
    .afterClosed();
}
