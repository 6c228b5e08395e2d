import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningApp } from './create-app';
import { INITIAL_ADMIN_PASSWORD_FILE } from '../core/auth/auth.service';
import { type AppConfig, SQLITE_FILE } from '../platform/config/config';
import { MetricsService } from '../platform/metrics/metrics.service';

export interface Summary {
  fields: Record<string, string | number>;
  message: string;
}

/** A broker or database URL without its user and password. */
function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}

/** What the start did, in one line: where the api and the broker listen, where the data is, who logs in. */
export function startSummary(config: AppConfig, running: Pick<RunningApp, 'port' | 'mqttPort'>): Summary {
  const url = `http://localhost:${running.port}`;
  const broker = config.mqttUrl
    ? `external ${withoutCredentials(config.mqttUrl)}`
    : `embedded on ${config.host}:${running.mqttPort}`;
  const database = config.databaseUrl
    ? `PostgreSQL ${withoutCredentials(config.databaseUrl)}`
    : `SQLite ${join(config.dataDir, SQLITE_FILE)}`;
  const generated = existsSync(join(config.dataDir, INITIAL_ADMIN_PASSWORD_FILE));
  const login = `${config.adminUsername}${generated ? ` (generated password in ${INITIAL_ADMIN_PASSWORD_FILE})` : ''}`;
  return {
    fields: { url, broker, database, login },
    message:
      `api listening on ${url} (console at /, API at /api/v1, docs at /api/docs); ` +
      `MQTT broker: ${broker}; database: ${database}; first admin: ${login}`,
  };
}

async function valueOf(metric: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> {
  return (await metric.get()).values.reduce((sum, { value }) => sum + value, 0);
}

/** Closes the app and tells what that took: the streams and sockets closed, the events flushed. */
export async function stopSummary(running: Pick<RunningApp, 'app' | 'close'>): Promise<Summary> {
  const metrics = running.app.get(MetricsService);
  const sseStreams = await valueOf(metrics.sseClients);
  const webSockets = await valueOf(metrics.wsClients);
  const storedBefore = await valueOf(metrics.eventsStored);
  await running.close();
  const eventsFlushed = (await valueOf(metrics.eventsStored)) - storedBefore;
  return {
    fields: { sseStreams, webSockets, eventsFlushed },
    message:
      `stopped: closed ${sseStreams} event streams, ${webSockets} WebSockets and the MQTT connections, ` +
      `flushed ${eventsFlushed} events; exiting`,
  };
}
