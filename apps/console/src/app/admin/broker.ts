import { HttpClient } from '@angular/common/http';
import { inject, Injectable, InjectionToken, type Signal, signal } from '@angular/core';
import type { BrokerInfo } from '@iot/protocol';
import { apiUrl } from '../core/api-url';
import { WINDOW } from '../core/browser';

/** The embedded broker's port when `MQTT_PORT` is not set (docs/protocol.md §6). */
export const DEFAULT_MQTT_PORT = 1883;

/** Where devices reach the MQTT broker, as shown next to a device's credentials. */
export interface BrokerAddress {
  /** A host name or IP address as a URL writes it (IPv6 in brackets: `[::1]`). */
  host: string;
  port: number;
  /** `mqtt` unless said otherwise (`mqtts`, `ws`, `wss`). */
  scheme?: string;
  /** A WebSocket broker's path, e.g. `/mqtt`. */
  path?: string;
  /**
   * True unless the platform was told the address (`MQTT_PUBLIC_URL`): worked
   * out by the api from this page's host, or, before its answer, guessed here.
   * Devices on another network may need another address.
   */
  guessed: boolean;
}

/** The broker address shown until (or unless) the api says where devices connect; a spec may provide its own. */
export const MQTT_BROKER = new InjectionToken<BrokerAddress>('MQTT_BROKER', {
  providedIn: 'root',
  factory: () => ({
    host: inject(WINDOW)?.location.hostname || 'localhost',
    port: DEFAULT_MQTT_PORT,
    guessed: true,
  }),
});

/** `mqtt://host:port` (or the scheme and path the api gave), as MQTT.js and the device SDK take it. */
export function brokerUrl(broker: BrokerAddress): string {
  return `${broker.scheme ?? 'mqtt'}://${broker.host}:${broker.port}${broker.path ?? ''}`;
}

const DEFAULT_PORTS: Record<string, number> = { mqtt: 1883, tcp: 1883, mqtts: 8883, ws: 80, wss: 443 };

/** `GET /broker`'s answer as an address; undefined for a URL without a host. */
export function brokerAddressOf(info: BrokerInfo): BrokerAddress | undefined {
  let url: URL;
  try {
    url = new URL(info.url);
  } catch {
    return undefined;
  }
  const scheme = url.protocol.slice(0, -1);
  const port = Number(url.port) || DEFAULT_PORTS[scheme];
  if (!url.hostname || !port) return undefined;
  return {
    host: url.hostname,
    port,
    guessed: info.derived,
    ...(scheme !== 'mqtt' && { scheme }),
    ...(url.pathname.length > 1 && { path: url.pathname }),
  };
}

/**
 * Where devices connect, as the api tells it (`GET /broker`), asked once;
 * the {@link MQTT_BROKER} guess until it answers, or if it cannot.
 */
@Injectable({ providedIn: 'root' })
export class BrokerDirectory {
  private readonly current = signal(inject(MQTT_BROKER));
  readonly address: Signal<BrokerAddress> = this.current.asReadonly();

  constructor() {
    inject(HttpClient)
      .get<BrokerInfo>(apiUrl('/broker'), { withCredentials: true })
      .subscribe({
        next: (info) => {
          const address = brokerAddressOf(info);
          if (address) this.current.set(address);
        },
        // The guess stays; the card says it is one.
        error: () => undefined,
      });
  }
}

/** The host as a command-line flag takes it: an IPv6 address without its URL brackets. */
export function bareHost(broker: BrokerAddress): string {
  return broker.host.replace(/^\[(.*)\]$/, '$1');
}
