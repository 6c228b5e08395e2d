import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connectAsync } from 'mqtt';
import { sleep } from './api-process';
import { descendants } from './proc';

/**
 * The processes in front of api replicas: a Mosquitto the devices publish
 * to and nginx with deploy/nginx/nginx.conf the SSE clients connect through,
 * each on a free loopback port with its files in a temporary folder, stopped
 * (and the folder removed) at the end.
 */
const HOST = '127.0.0.1';
const READY_ATTEMPTS = 100;
const STOP_TIMEOUT_MS = 5_000;

const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((path) => existsSync(path));
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path));
/** The deployment's proxy configuration, from the repository root (where the tool runs). */
export const NGINX_TEMPLATE = resolve('deploy/nginx/nginx.conf');

/** Why no Mosquitto can be started here, or undefined when it can. */
export function mosquittoMissing(): string | undefined {
  return MOSQUITTO ? undefined : 'mosquitto is not installed (apt-get install mosquitto)';
}

/** Why replicas cannot run here, or undefined when they can. */
export function replicasMissing(): string | undefined {
  const mosquitto = mosquittoMissing();
  if (mosquitto) return mosquitto;
  if (!NGINX) return 'nginx is not installed (apt-get install nginx-light)';
  if (!existsSync(NGINX_TEMPLATE)) return `${NGINX_TEMPLATE} is missing: run the tool from the repository root`;
  return undefined;
}

export interface Service {
  name: string;
  url: string;
  /** The service's processes now (nginx: master and workers). */
  pids(): number[];
  stop(): Promise<void>;
}

/** A TCP port free on loopback now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject()));
    });
  });
}

/** A child that keeps the tail of its stderr, and stops with SIGTERM (SIGKILL if it hangs). */
function spawnService(
  binary: string,
  args: string[],
): { child: ChildProcess; stderr: () => string; stop(): Promise<void> } {
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-4_000)));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return {
    child,
    stderr: () => tail,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/**
 * `binary` started with its files in `dir`, once `answers` says it serves (a throw counts as not yet); stopping it
 * removes `dir`, and so does a start that fails.
 */
async function startedService(
  binary: string,
  args: string[],
  dir: string,
  name: string,
  answers: () => Promise<boolean>,
): Promise<{ child: ChildProcess; stop(): Promise<void> }> {
  const proc = spawnService(binary, args);
  const stop = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  for (let attempt = 0; ; attempt++) {
    if (proc.child.exitCode !== null) {
      await stop();
      throw new Error(`${name} exited (${proc.child.exitCode}): ${proc.stderr()}`);
    }
    if (await answers().catch(() => false)) return { child: proc.child, stop };
    if (attempt > READY_ATTEMPTS) {
      const stderr = proc.stderr();
      await stop();
      throw new Error(`${name} did not answer: ${stderr}`);
    }
    await sleep(50);
  }
}

/**
 * Mosquitto on a free loopback port, anonymous logins allowed, no persistence; resolves once a client connects.
 * With `set_tcp_nodelay`, as deploy/mosquitto/mosquitto.conf: Mosquitto's default lets Nagle's algorithm hold a
 * small packet for the peer's delayed ACK (about 40 ms on Linux).
 */
export async function startMosquitto(): Promise<Service> {
  if (!MOSQUITTO) throw new Error(mosquittoMissing());
  const dir = mkdtempSync(join(tmpdir(), 'iot-bench-mosquitto-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [
      `listener ${port} ${HOST}`,
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'set_tcp_nodelay true',
      '',
    ].join('\n'),
  );
  // Started as root, Mosquitto becomes the mosquitto user: the folder is handed to it.
  if (process.getuid?.() === 0) spawnSync('chown', ['-R', 'mosquitto', dir]);
  const url = `mqtt://${HOST}:${port}`;
  const proc = await startedService(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], dir, 'mosquitto', async () => {
    const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 1_000 });
    await client.endAsync();
    return true;
  });
  const pid = proc.child.pid;
  return { name: 'Mosquitto', url, pids: () => (pid === undefined ? [] : [pid]), stop: proc.stop };
}

/** `text` with `pattern` replaced; throws when the template no longer has it. */
function replaced(text: string, pattern: RegExp, replacement: string): string {
  if (!pattern.test(text)) throw new Error(`${NGINX_TEMPLATE} has no ${pattern}`);
  return text.replace(pattern, replacement);
}

/**
 * The deployment's configuration on 127.0.0.1:port in front of `upstreams`,
 * with its pid and temporary files in `dir` and no access log (one line per
 * request, not per frame: the SSE streams are 50 requests).
 */
function nginxConfig(template: string, dir: string, port: number, upstreams: number[]): string {
  let conf = replaced(template, /^pid .*;$/m, `pid ${dir}/nginx.pid;`);
  conf = replaced(conf, /^\s*access_log .*;$/m, '  access_log off;');
  conf = replaced(conf, /^\s*listen 80;$/m, `    listen ${HOST}:${port};`);
  const servers = upstreams.map((p) => `    server ${HOST}:${p} max_fails=3 fail_timeout=10s;`).join('\n');
  conf = replaced(conf, /^\s*server api1:3000[^;]*;$/m, servers);
  conf = conf.replace(/^\s*server api\d+:3000[^;]*;\n/gm, '');
  // Started as root, nginx runs its workers as nobody: they may write request bodies here.
  chmodSync(dir, 0o755);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((what) => {
    mkdirSync(join(dir, what), { mode: 0o777 });
    chmodSync(join(dir, what), 0o777);
    return `  ${what}_temp_path ${dir}/${what};`;
  });
  return replaced(conf, /^http \{$/m, `http {\n${temp.join('\n')}`);
}

/** nginx with deploy/nginx/nginx.conf in front of the apis on `upstreams`; resolves once an api answers through it. */
export async function startNginx(upstreams: number[]): Promise<Service> {
  if (!NGINX) throw new Error(replicasMissing());
  const dir = mkdtempSync(join(tmpdir(), 'iot-bench-nginx-'));
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(readFileSync(NGINX_TEMPLATE, 'utf8'), dir, port, upstreams));
  const url = `http://${HOST}:${port}`;
  const args = ['-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'];
  const proc = await startedService(NGINX, args, dir, 'nginx', async () => {
    const res = await fetch(`${url}/healthz`);
    await res.arrayBuffer();
    return res.ok;
  });
  const pid = proc.child.pid;
  return { name: 'nginx', url, pids: () => (pid === undefined ? [] : [pid, ...descendants(pid)]), stop: proc.stop };
}
