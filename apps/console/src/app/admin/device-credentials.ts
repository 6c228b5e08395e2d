import { LiveAnnouncer } from '@angular/cdk/a11y';
import { CdkCopyToClipboard } from '@angular/cdk/clipboard';
import { ChangeDetectionStrategy, Component, computed, DestroyRef, inject, input, signal } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { type DeviceCredentials, topics } from '@iot/protocol';
import { type BrokerAddress, BrokerDirectory, brokerUrl } from './broker';
import { deviceSdkSnippet, mosquittoPubCommand } from './snippets';

let nextId = 0;

/** How long a copy button says "Copied". */
export const COPIED_FEEDBACK_MS = 2_000;

interface CopyItem {
  key: string;
  /** What is copied, for the button's name and the announcement ("Copy secret", "Secret copied"). */
  label: string;
  text: string;
}

interface Snippet extends CopyItem {
  title: string;
}

/**
 * A device's credentials as the api hands them out, once: the id (client id
 * and username), the secret, the broker and the telemetry topic, each with a
 * copy button, then a `mosquitto_pub` command and a device-sdk snippet that
 * use them. Shown after registering a device and after rotating its secret.
 */
@Component({
  selector: 'iot-device-credentials',
  imports: [CdkCopyToClipboard, MatButton],
  templateUrl: './device-credentials.html',
  styleUrl: './device-credentials.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class DeviceCredentialsView {
  /** The `{username, password}` from `POST /devices` or `POST /devices/{id}/credentials`. */
  readonly credentials = input.required<DeviceCredentials>();
  /** Where devices connect; by default what the api says ({@link BrokerDirectory}). */
  readonly broker = input<BrokerAddress>();
  private readonly directory = inject(BrokerDirectory);
  protected readonly address = computed(() => this.broker() ?? this.directory.address());

  private readonly announcer = inject(LiveAnnouncer);
  /** Prefix of this instance's element ids. */
  protected readonly idPrefix = `iot-credentials-${nextId++}`;
  private feedbackTimer: ReturnType<typeof setTimeout> | undefined;

  /** The item whose button says "Copied", or (as `!key`) "Copy failed". */
  protected readonly feedback = signal<{ key: string; ok: boolean } | null>(null);
  protected readonly fields = computed<CopyItem[]>(() => {
    const { username, password } = this.credentials();
    return [
      { key: 'id', label: 'Device id', text: username },
      { key: 'secret', label: 'Secret', text: password },
      { key: 'broker', label: 'Broker URL', text: brokerUrl(this.address()) },
      { key: 'topic', label: 'Telemetry topic', text: topics.telemetry(username) },
    ];
  });
  protected readonly snippets = computed<Snippet[]>(() => [
    {
      key: 'mosquitto',
      title: 'Publish one telemetry message with mosquitto_pub',
      label: 'mosquitto_pub command',
      text: mosquittoPubCommand(this.credentials(), this.address()),
    },
    {
      key: 'sdk',
      title: 'Connect with the device SDK (TypeScript)',
      label: 'device SDK snippet',
      text: deviceSdkSnippet(this.credentials(), this.address()),
    },
  ]);

  constructor() {
    inject(DestroyRef).onDestroy(() => clearTimeout(this.feedbackTimer));
  }

  protected copied(item: CopyItem, ok: boolean): void {
    clearTimeout(this.feedbackTimer);
    this.feedback.set({ key: item.key, ok });
    void this.announcer.announce(
      ok
        ? `Copied the ${item.label.toLowerCase()}.`
        : `Could not copy the ${item.label.toLowerCase()}: select it and copy it by hand.`,
    );
    this.feedbackTimer = setTimeout(() => this.feedback.set(null), COPIED_FEEDBACK_MS);
  }

  protected buttonText(item: CopyItem): string {
    const feedback = this.feedback();
    if (feedback?.key !== item.key) return 'Copy';
    return feedback.ok ? 'Copied' : 'Copy failed';
  }
}
