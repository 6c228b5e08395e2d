import { inject, LOCALE_ID, Pipe, type PipeTransform } from '@angular/core';
import type { TelemetryValue } from '@iot/protocol';
import {
  formatMeasurement,
  formatRelativeTime,
  formatTelemetryValue,
  formatTimestamp,
  type MeasureSpec,
} from './format';

/** `{{ value | telemetryValue }}`: see formatTelemetryValue. */
@Pipe({ name: 'telemetryValue' })
export class TelemetryValuePipe implements PipeTransform {
  private readonly locale = inject(LOCALE_ID);
  transform(value: TelemetryValue): string {
    return formatTelemetryValue(value, this.locale);
  }
}

/** `{{ ts | relativeTime: clock.now() }}`: pure, so it recomputes only when the time or `now` moves. */
@Pipe({ name: 'relativeTime' })
export class RelativeTimePipe implements PipeTransform {
  private readonly locale = inject(LOCALE_ID);
  transform(ts: number | null, now: number): string {
    return formatRelativeTime(ts, now, this.locale);
  }
}

/** `{{ ts | timestamp }}`: the exact local time. */
@Pipe({ name: 'timestamp' })
export class TimestampPipe implements PipeTransform {
  private readonly locale = inject(LOCALE_ID);
  transform(ts: number | null): string {
    return ts === null ? '' : formatTimestamp(ts, this.locale);
  }
}

/** `{{ value | measurement: spec }}`: see formatMeasurement. */
@Pipe({ name: 'measurement' })
export class MeasurementPipe implements PipeTransform {
  private readonly locale = inject(LOCALE_ID);
  transform(value: TelemetryValue, spec: MeasureSpec | undefined): string {
    return formatMeasurement(value, spec, this.locale);
  }
}
