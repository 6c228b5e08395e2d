import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// deploy/nginx/nginx.conf in front of real api processes, run as an unprivileged process.
const nginxBinary = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => spawnSync(path, ['-v']).error === undefined);

/** Why nginx tests cannot run here, or undefined when they can. */
export function nginxMissing(): string | undefined {
  return nginxBinary ? undefined : 'nginx is not installed (apt-get install nginx-light)';
}

const TEMPLATE = resolve(__dirname, '../../../deploy/nginx/nginx.conf');

/** `text` with `pattern` replaced; throws when the template no longer has it (the test would test nothing). */
function replaced(text: string, pattern: RegExp, replacement: string): string {
  if (!pattern.test(text)) throw new Error(`deploy/nginx/nginx.conf has no ${pattern}`);
  return text.replace(pattern, replacement);
}

/** The deploy configuration on 127.0.0.1:port, proxying to `upstreams`, with its files in `dir`. */
function nginxConfig(template: string, dir: string, port: number, upstreams: number[]): string {
  let conf = replaced(template, /^pid .*;$/m, `pid ${dir}/nginx.pid;`);
  conf = replaced(conf, /^\s*access_log .*;$/m, '  access_log off;');
  conf = replaced(conf, /^\s*listen 80;$/m, `    listen 127.0.0.1:${port};`);
  const servers = upstreams.map((p) => `    server 127.0.0.1:${p};`).join('\n');
  conf = replaced(conf, /^\s*server api1:3000[^;]*;$/m, servers);
  conf = conf.replace(/^\s*server api\d+:3000[^;]*;\n/gm, '');
  // Started as root, nginx runs its workers as nobody: they write request bodies over 16 KiB here.
  chmodSync(dir, 0o755);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((what) => {
    mkdirSync(join(dir, what), { mode: 0o777 });
    chmodSync(join(dir, what), 0o777);
    return `  ${what}_temp_path ${dir}/${what};`;
  });
  return replaced(conf, /^http \{$/m, `http {\n${temp.join('\n')}`);
}

export interface RunningNginx {
  url: string;
  port: number;
  origin: string;
  stop(): Promise<void>;
}

/** deploy/nginx/nginx.conf on 127.0.0.1:port in front of the apis on `upstreams`; resolves once the api answers through it. */
export async function startNginx(port: number, upstreams: number[]): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'iot-nginx-'));
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(readFileSync(TEMPLATE, 'utf8'), dir, port, upstreams));
  const child: ChildProcess = spawn(
    nginxBinary!,
    ['-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  // Ready when the api answers through it.
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${stderr}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (attempt > 100) throw new Error(`nginx did not answer: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    port,
    origin: url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
