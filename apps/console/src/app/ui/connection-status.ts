import { ChangeDetectionStrategy, Component, computed, input } from '@angular/core';
import type { ConnectionState } from '../core/stream/stream.service';

const LABELS: Record<ConnectionState, { text: string; hint: string }> = {
  connecting: { text: 'Connecting…', hint: 'Opening the live stream.' },
  live: { text: 'Live', hint: 'Receiving live updates.' },
  reconnecting: { text: 'Reconnecting…', hint: 'The live stream was lost; values shown may be out of date.' },
  offline: { text: 'Offline', hint: 'No live stream; values shown may be out of date.' },
};

/**
 * The stream's connection state: a dot and a word, announced politely when it
 * changes; and, when commands cannot use the WebSocket, that they go over HTTP.
 */
@Component({
  selector: 'iot-connection-status',
  changeDetection: ChangeDetectionStrategy.OnPush,
  host: {
    role: 'status',
    'aria-live': 'polite',
    '[attr.data-state]': 'state()',
    '[attr.data-control]': "commandsOverHttp() ? 'http' : 'socket'",
    '[attr.title]': 'label().hint',
  },
  template: `<span class="dot" aria-hidden="true"></span><span class="text">{{ label().text }}</span>`,
  styles: `
    :host {
      display: inline-flex;
      align-items: center;
      gap: 6px;
      padding: 2px 10px;
      border-radius: 999px;
      font: var(--mat-sys-label-large);
      white-space: nowrap;
      background: var(--mat-sys-surface-container-high);
      color: var(--mat-sys-on-surface);
    }
    .dot {
      width: 8px;
      height: 8px;
      border-radius: 50%;
      background: var(--iot-offline);
    }
    :host([data-state='live']) .dot {
      background: var(--iot-online);
    }
    :host([data-state='connecting']) .dot,
    :host([data-state='reconnecting']) .dot {
      background: var(--iot-warning);
      animation: pulse 1.2s ease-in-out infinite;
    }
    @keyframes pulse {
      50% {
        opacity: 0.3;
      }
    }
    @media (prefers-reduced-motion: reduce) {
      .dot {
        animation: none !important;
      }
    }
  `,
})
export class ConnectionStatus {
  readonly state = input.required<ConnectionState>();
  /** Whether commands go over REST because the control WebSocket is refused or lost. */
  readonly commandsOverHttp = input(false);
  protected readonly label = computed(() => {
    const label = LABELS[this.state()];
    if (!this.commandsOverHttp()) return label;
    return {
      text: `${label.text} · commands over HTTP`,
      hint: `${label.hint} The control WebSocket cannot be used here, so commands go over HTTP; it is retried in the background.`,
    };
  });
}
