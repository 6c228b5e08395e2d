import { inject, InjectionToken } from '@angular/core';
import { WINDOW } from '../core/browser';

/** The embedded broker's port when `MQTT_PORT` is not set (docs/protocol.md §6). */
export const DEFAULT_MQTT_PORT = 1883;

/** Where devices reach the MQTT broker, as shown next to a device's credentials. */
export interface BrokerAddress {
  /** A host name or IP address as a URL writes it (IPv6 in brackets: `[::1]`). */
  host: string;
  port: number;
  /**
   * True when the console had to guess. The api publishes no MQTT address, so
   * the default is this page's host and port 1883, which is wrong behind an
   * external broker (`MQTT_URL`) or with another `MQTT_PORT`.
   */
  guessed: boolean;
}

/** The broker address devices are told to use; a deployment (or a spec) may provide its own. */
export const MQTT_BROKER = new InjectionToken<BrokerAddress>('MQTT_BROKER', {
  providedIn: 'root',
  factory: () => ({
    host: inject(WINDOW)?.location.hostname || 'localhost',
    port: DEFAULT_MQTT_PORT,
    guessed: true,
  }),
});

/** `mqtt://host:port`, as MQTT.js and the device SDK take it. */
export function brokerUrl(broker: BrokerAddress): string {
  return `mqtt://${broker.host}:${broker.port}`;
}

/** The host as a command-line flag takes it: an IPv6 address without its URL brackets. */
export function bareHost(broker: BrokerAddress): string {
  return broker.host.replace(/^\[(.*)\]$/, '$1');
}
