import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { DEVICE_ID_PATTERN } from '@iot/protocol';
import { type BrokerReconciliation, DeviceCredentialsSink } from '../../core/devices/device-credentials-sink';
import type { MetricsService } from '../../platform/metrics/metrics.service';

export const DYNSEC_TOPIC = '$CONTROL/dynamic-security/v1';
export const DYNSEC_RESPONSE_TOPIC = `${DYNSEC_TOPIC}/response`;
/** Marks the clients and roles the api manages, so a re-sync never touches the broker's other users. */
export const DEVICE_TEXTNAME = 'iot-device';
const ROLE_PREFIX = 'iot-device-';
/** An answer larger than this (a listing of millions of clients) is not read. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** Commands waiting for their answer, at most; more are refused at once. */
const MAX_PENDING = 10_000;

export interface DynsecCommand {
  command: string;
  [field: string]: unknown;
}

interface DynsecAnswer {
  command?: string;
  error?: string;
  data?: unknown;
  correlationData?: string;
}

/** What a device may do, as dynsec ACLs: the embedded broker's rule (own topics only, see `@iot/protocol` topics). */
export function deviceAcls(deviceId: string): Array<{ acltype: string; topic: string; allow: boolean }> {
  if (!DEVICE_ID_PATTERN.test(deviceId)) throw new Error(`invalid device id: ${JSON.stringify(deviceId)}`);
  const own = `devices/${deviceId}`;
  const allow = (acltype: string, topic: string) => ({ acltype, topic, allow: true });
  return [
    allow('publishClientSend', `${own}/telemetry`),
    allow('publishClientSend', `${own}/state/reported`),
    allow('publishClientSend', `${own}/status`),
    allow('publishClientSend', `${own}/commands/+/result`),
    allow('publishClientSend', `${own}/model`),
    // A pattern: the filter `commands/+` itself and single command topics (MQTT 5 response-topic clients).
    allow('subscribePattern', `${own}/commands/+`),
    allow('subscribeLiteral', `${own}/commands/#`),
    allow('subscribeLiteral', `${own}/state/desired`),
    allow('subscribeLiteral', `${own}/errors`),
  ];
}

export function roleOf(deviceId: string): string {
  return `${ROLE_PREFIX}${deviceId}`;
}

class DynsecError extends Error {}

/**
 * Device credentials in Mosquitto's dynamic-security plugin: a client per
 * device (username = client id = device id) with a role of its own, since
 * Mosquitto 2.0 has no %c/%u ACL patterns. Commands go to
 * `$CONTROL/dynamic-security/v1` through the api's broker connection; each
 * waits for its answer (matched by correlation data) up to a timeout.
 */
export class DynsecCredentials extends DeviceCredentialsSink {
  readonly managed = true;
  private readonly logger = new Logger(DynsecCredentials.name);
  private readonly prefix = randomBytes(6).toString('hex');
  private sequence = 0;
  private readonly pending = new Map<string, (answer: DynsecAnswer) => void>();

  constructor(
    private readonly send: (topic: string, payload: string) => Promise<void>,
    private readonly timeoutMs: number,
    private readonly metrics?: Pick<MetricsService, 'brokerCredentialFailures'>,
  ) {
    super();
  }

  /** Hands the broker's answers in (messages on DYNSEC_RESPONSE_TOPIC); other replicas' answers are ignored. */
  onAnswer(payload: Buffer): void {
    if (payload.length > MAX_ANSWER_BYTES || this.pending.size === 0) return;
    let answers: unknown;
    try {
      answers = (JSON.parse(payload.toString('utf8')) as { responses?: unknown }).responses;
    } catch {
      return;
    }
    if (!Array.isArray(answers)) return;
    for (const answer of answers as DynsecAnswer[]) {
      if (typeof answer?.correlationData !== 'string') continue;
      const resolve = this.pending.get(answer.correlationData);
      if (resolve) {
        this.pending.delete(answer.correlationData);
        resolve(answer);
      }
    }
  }

  async registered(deviceId: string, secret: string): Promise<void> {
    await this.change(
      'register',
      deviceId,
      [
        // Leftovers of an earlier device with this id (a missed deletion) go first.
        { command: 'deleteClient', username: deviceId },
        { command: 'deleteRole', rolename: roleOf(deviceId) },
        this.createRole(deviceId),
        this.createClient(deviceId, secret),
      ],
      2,
    );
  }

  async rotated(deviceId: string, secret: string): Promise<void> {
    // setClientPassword keeps a live session: disabling the client drops it, enabling lets the new secret in.
    const commands: DynsecCommand[] = [
      { command: 'disableClient', username: deviceId },
      { command: 'setClientPassword', username: deviceId, password: secret },
      { command: 'enableClient', username: deviceId },
    ];
    const answers = await this.request('rotate', deviceId, commands);
    // A device registered before MQTT_DYNSEC was on: rotating it is how it gets into the broker.
    if (answers[0].error !== undefined && /not found/i.test(answers[0].error)) return this.registered(deviceId, secret);
    this.check('rotate', deviceId, commands, answers, 0);
  }

  async removed(deviceId: string): Promise<void> {
    // Deleting the client drops its session; a client or role already gone is what was wanted.
    await this.change(
      'delete',
      deviceId,
      [
        { command: 'deleteClient', username: deviceId },
        { command: 'deleteRole', rolename: roleOf(deviceId) },
      ],
      2,
    );
  }

  async reconcile(deviceIds: readonly string[]): Promise<BrokerReconciliation> {
    const [clientList, roleList] = await this.request('re-sync', '*', [
      { command: 'listClients', verbose: true, count: -1, offset: 0 },
      { command: 'listRoles', verbose: false, count: -1, offset: 0 },
    ]);
    const clients = ((clientList.data as { clients?: unknown[] })?.clients ?? []) as Array<{
      username?: unknown;
      textname?: unknown;
      roles?: Array<{ rolename?: unknown }>;
    }>;
    const roles = new Set(((roleList.data as { roles?: unknown[] })?.roles ?? []) as string[]);
    const wanted = new Set(deviceIds);
    const byName = new Map<string, (typeof clients)[number]>();
    for (const client of clients) if (typeof client.username === 'string') byName.set(client.username, client);
    const result: BrokerReconciliation = { created: [], deleted: [], repaired: [] };
    const commands: DynsecCommand[] = [];
    for (const [username, client] of byName) {
      if (client.textname !== DEVICE_TEXTNAME || wanted.has(username)) continue;
      result.deleted.push(username);
      commands.push({ command: 'deleteClient', username });
    }
    for (const role of roles) {
      if (role.startsWith(ROLE_PREFIX) && !wanted.has(role.slice(ROLE_PREFIX.length))) {
        commands.push({ command: 'deleteRole', rolename: role });
      }
    }
    for (const id of deviceIds) {
      const client = byName.get(id);
      if (client === undefined) {
        result.created.push(id);
        if (!roles.has(roleOf(id))) commands.push(this.createRole(id));
        // Nobody knows this password: the client stays disabled until its secret is rotated.
        commands.push(this.createClient(id, randomBytes(32).toString('base64url')));
        commands.push({ command: 'disableClient', username: id });
      } else if (!roles.has(roleOf(id)) || !client.roles?.some((r) => r.rolename === roleOf(id))) {
        result.repaired.push(id);
        if (!roles.has(roleOf(id))) commands.push(this.createRole(id));
        commands.push({ command: 'addClientRole', username: id, rolename: roleOf(id) });
      }
    }
    // In slices: one message per slice keeps each answer small.
    for (let at = 0; at < commands.length; at += 500) {
      const answers = await this.request('re-sync', '*', commands.slice(at, at + 500));
      const refused = answers.find((a) => a.error !== undefined && !/not found|already/i.test(a.error));
      if (refused) throw this.failed('re-sync', '*', `${refused.command}: ${refused.error}`);
    }
    this.logger.log(
      `re-sync: ${result.created.length} created, ${result.deleted.length} deleted, ${result.repaired.length} repaired`,
    );
    return result;
  }

  private createRole(deviceId: string): DynsecCommand {
    return { command: 'createRole', rolename: roleOf(deviceId), textname: DEVICE_TEXTNAME, acls: deviceAcls(deviceId) };
  }

  private createClient(deviceId: string, password: string): DynsecCommand {
    return {
      command: 'createClient',
      username: deviceId,
      clientid: deviceId,
      password,
      textname: DEVICE_TEXTNAME,
      roles: [{ rolename: roleOf(deviceId), priority: 0 }],
    };
  }

  /** Runs `commands`; the first `tolerant` may fail with "not found" (cleaning up what may not be there). */
  private async change(what: string, deviceId: string, commands: DynsecCommand[], tolerant = 0): Promise<void> {
    this.check(what, deviceId, commands, await this.request(what, deviceId, commands), tolerant);
  }

  /** `run`, with a failure to get answers logged and counted. */
  private async request(what: string, deviceId: string, commands: DynsecCommand[]): Promise<DynsecAnswer[]> {
    try {
      return await this.run(commands);
    } catch (error) {
      throw this.failed(what, deviceId, (error as Error).message);
    }
  }

  private check(
    what: string,
    deviceId: string,
    commands: DynsecCommand[],
    answers: DynsecAnswer[],
    tolerant: number,
  ): void {
    answers.forEach((answer, i) => {
      if (answer.error === undefined) return;
      if ((i < tolerant || what === 'delete') && /not found/i.test(answer.error)) return;
      throw this.failed(what, deviceId, `${answer.command ?? commands[i].command}: ${answer.error}`);
    });
  }

  private failed(what: string, deviceId: string, reason: string): DynsecError {
    this.metrics?.brokerCredentialFailures.inc({ operation: what });
    this.logger.error(`dynamic security: ${what} ${deviceId} failed: ${reason}`);
    return new DynsecError(reason);
  }

  /** Sends `commands` as one message and waits for every answer. */
  private async run(commands: DynsecCommand[]): Promise<DynsecAnswer[]> {
    if (this.pending.size + commands.length > MAX_PENDING) throw new DynsecError('too many broker commands waiting');
    const ids = commands.map(() => `${this.prefix}-${++this.sequence}`);
    const answers = ids.map((id) => new Promise<DynsecAnswer>((resolve) => this.pending.set(id, resolve)));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DynsecError(`no answer from the broker within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    try {
      const body = JSON.stringify({ commands: commands.map((c, i) => ({ ...c, correlationData: ids[i] })) });
      await Promise.race([this.send(DYNSEC_TOPIC, body), timeout]);
      return await Promise.race([Promise.all(answers), timeout]);
    } finally {
      clearTimeout(timer);
      for (const id of ids) this.pending.delete(id);
    }
  }
}
