/**
 * What a lab host's filesystem holds: the files an ONLYOFFICE Docs deb install (7.2, supervisor era)
 * puts on a machine, at the same paths, written into the host's own folder and bind-mounted over the
 * standard paths inside its mount namespace. The render functions are pure: text from parameters.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { HostMount } from './namespace.js';

/** Paths as programs on the host see them. */
export const ON_HOST = {
  dsConf: '/etc/onlyoffice/documentserver/nginx/ds.conf',
  dsConfLink: '/etc/nginx/conf.d/ds.conf',
  httpCommon: '/etc/nginx/includes/http-common.conf',
  dsCommon: '/etc/nginx/includes/ds-common.conf',
  dsDocservice: '/etc/nginx/includes/ds-docservice.conf',
  dsExample: '/etc/nginx/includes/ds-example.conf',
  nginxPid: '/run/nginx.pid',
  nginxErrorLog: '/var/log/nginx/error.log',
  dsNginxErrorLog: '/var/log/onlyoffice/documentserver/nginx.error.log',
  configDir: '/etc/onlyoffice/documentserver',
  defaultJson: '/etc/onlyoffice/documentserver/default.json',
  productionJson: '/etc/onlyoffice/documentserver/production-linux.json',
  localJson: '/etc/onlyoffice/documentserver/local.json',
  logRoot: '/var/log/onlyoffice',
  docserviceOut: '/var/log/onlyoffice/documentserver/docservice/out.log',
  docserviceErr: '/var/log/onlyoffice/documentserver/docservice/err.log',
  converterOut: '/var/log/onlyoffice/documentserver/converter/out.log',
  converterErr: '/var/log/onlyoffice/documentserver/converter/err.log',
  exampleOut: '/var/log/onlyoffice/documentserver-example/out.log',
  exampleErr: '/var/log/onlyoffice/documentserver-example/err.log',
  dataRoot: '/var/lib/onlyoffice',
  cacheFiles: '/var/lib/onlyoffice/documentserver/App_Data/cache/files',
  docserviceBin: '/var/www/onlyoffice/documentserver/server/DocService/docservice',
  converterBin: '/var/www/onlyoffice/documentserver/server/FileConverter/converter',
  exampleBin: '/var/www/onlyoffice/documentserver-example/example',
  welcomePage: '/var/www/onlyoffice/documentserver-example/welcome/linux.html',
  supervisorConf: '/etc/supervisor/supervisord.conf',
  supervisorPrograms: '/etc/supervisor/conf.d',
  supervisorLog: '/var/log/supervisor/supervisord.log',
  redisConf: '/etc/redis/redis.conf',
  redisPid: '/run/redis/redis-server.pid',
  redisLog: '/var/log/redis/redis-server.log',
} as const;

/**
 * Trees the host writes into privately while still seeing the machine's files underneath: whatever a
 * command run on the host creates under /etc, /var, /home or /root stays with that host.
 */
const OVERLAY_TARGETS = ['/etc', '/var', '/home', '/root'] as const;

/** Standard paths that are wholly the host's own. /var/log and /run are whole: every daemon's logs and pids. */
const BIND_TARGETS = [
  '/etc/nginx',
  '/etc/supervisor',
  '/etc/onlyoffice',
  '/etc/redis',
  '/var/log',
  '/var/www',
  '/var/lib/nginx',
  '/var/lib/redis',
  '/var/lib/onlyoffice',
  '/run',
] as const;

export interface HostPaths {
  hostDir: string;
  /** `${overlayDir}/etc/upper` holds what the host wrote under /etc (with `work` beside it). */
  overlayDir: string;
  /** The host's filesystem tree: `${rootDir}/etc/nginx` is the host's /etc/nginx. */
  rootDir: string;
  labDir: string;
  sshdDir: string;
  behaviourFile: string;
  launchLog: string;
  anchorLog: string;
}

export function hostPaths(hostDir: string): HostPaths {
  const labDir = path.join(hostDir, 'lab');
  return {
    hostDir,
    overlayDir: path.join(hostDir, 'overlay'),
    rootDir: path.join(hostDir, 'root'),
    labDir,
    sshdDir: path.join(hostDir, 'sshd'),
    behaviourFile: path.join(labDir, 'behaviour.json'),
    launchLog: path.join(labDir, 'launch.log'),
    anchorLog: path.join(labDir, 'anchor.log'),
  };
}

/** Where a path of the host lives in the machine's view. */
export function inTree(paths: HostPaths, onHost: string): string {
  return path.join(paths.rootDir, onHost);
}

/** Where the host's private writes under an overlaid tree land, in the machine's view. */
export function overlayUpper(paths: HostPaths, target: string): string {
  return path.join(paths.overlayDir, target, 'upper');
}

/** Overlays first, then the binds that replace parts of them; a bind's target exists in the overlay. */
export function hostMounts(paths: HostPaths): HostMount[] {
  return [
    ...OVERLAY_TARGETS.map((target) => ({ kind: 'overlay' as const, source: path.join(paths.overlayDir, target), target })),
    ...BIND_TARGETS.map((target) => ({ kind: 'bind' as const, source: inTree(paths, target), target })),
  ];
}

/** The overlays' upper and work folders, with the binds' mount points made in the upper layers. */
async function prepareOverlays(paths: HostPaths, hostname: string): Promise<void> {
  for (const target of OVERLAY_TARGETS) {
    await mkdir(overlayUpper(paths, target), { recursive: true, mode: 0o755 });
    await mkdir(path.join(paths.overlayDir, target, 'work'), { recursive: true, mode: 0o755 });
  }
  for (const target of BIND_TARGETS) {
    const overlay = OVERLAY_TARGETS.find((candidate) => target.startsWith(`${candidate}/`));
    if (overlay) {
      await mkdir(path.join(overlayUpper(paths, overlay), path.relative(overlay, target)), { recursive: true, mode: 0o755 });
    }
  }
  const etc = overlayUpper(paths, '/etc');
  await writeFile(path.join(etc, 'hosts'), renderHosts(hostname), { mode: 0o644 });
  await writeFile(path.join(etc, 'hostname'), `${hostname}\n`, { mode: 0o644 });
}

/** What the lab's stand-in services read on every request (see service-program.ts). */
export interface Behaviour {
  /** false on light hosts, which run no Redis. */
  redis: boolean;
  slowMs: number;
  bigHeaderBytes: number;
}

export function renderBehaviour(behaviour: Behaviour): string {
  return `${JSON.stringify(behaviour, null, 2)}\n`;
}

export function renderDsConf(): string {
  return [
    'include /etc/nginx/includes/http-common.conf;',
    'server {',
    '  listen 0.0.0.0:80;',
    '  listen [::]:80 default_server;',
    '  server_tokens off;',
    '  set $secure_link_secret verysecretstring;',
    '',
    '  include /etc/nginx/includes/ds-*.conf;',
    '}',
    '',
  ].join('\n');
}

export function renderHttpCommon(docserviceServer = 'localhost:8000'): string {
  return [
    'upstream docservice {',
    `  server ${docserviceServer} max_fails=0 fail_timeout=0s;`,
    '}',
    '',
    'upstream example {',
    '  server localhost:3000;',
    '}',
    '',
    'map $http_host $this_host {',
    '  "" $host;',
    '  default $http_host;',
    '}',
    '',
    'map $http_x_forwarded_proto $the_scheme {',
    '  default $http_x_forwarded_proto;',
    '  "" $scheme;',
    '}',
    '',
    'map $http_x_forwarded_host $the_host {',
    '  default $http_x_forwarded_host;',
    '  "" $this_host;',
    '}',
    '',
    'map $http_upgrade $proxy_connection {',
    '  default upgrade;',
    '  "" close;',
    '}',
    '',
    'proxy_set_header Host $http_host;',
    'proxy_set_header Upgrade $http_upgrade;',
    'proxy_set_header Connection $proxy_connection;',
    'proxy_set_header X-Forwarded-Host $the_host;',
    'proxy_set_header X-Forwarded-Proto $the_scheme;',
    'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '',
  ].join('\n');
}

export function renderDsCommon(): string {
  return [
    'client_max_body_size 100m;',
    '',
    'gzip on;',
    'gzip_vary on;',
    'gzip_types text/plain text/xml text/css application/javascript application/json application/xml;',
    '',
    'access_log off;',
    `error_log ${ON_HOST.dsNginxErrorLog};`,
    '',
  ].join('\n');
}

/** `docserviceLocation` adds directives to `location /` (the faults' short timeouts). */
export function renderDsDocservice(docserviceLocation: readonly string[] = []): string {
  return [
    '# the welcome page',
    'rewrite ^/$ $the_scheme://$the_host/welcome/ redirect;',
    '',
    'location ~* ^(\\/cache\\/files.*)(\\/.*) {',
    '  alias /var/lib/onlyoffice/documentserver/App_Data$1;',
    '  secure_link $arg_md5,$arg_expires;',
    '  secure_link_md5 "$secure_link_expires$uri$secure_link_secret";',
    '  if ($secure_link = "") {',
    '    return 403;',
    '  }',
    '  if ($secure_link = "0") {',
    '    return 410;',
    '  }',
    '}',
    '',
    '# the internal and info interfaces answer only local callers',
    'location ~* ^(\\/[\\d]+\\.[\\d]+\\.[\\d]+[\\.|-][\\w]+)?\\/(internal|info)(\\/.*)$ {',
    '  allow 127.0.0.1;',
    '  deny all;',
    '  proxy_pass http://docservice/$2$3;',
    '}',
    '',
    'location / {',
    '  proxy_pass http://docservice;',
    ...docserviceLocation.map((line) => `  ${line}`),
    '}',
    '',
    'location ~ ^(\\/[\\d]+\\.[\\d]+\\.[\\d]+[\\.|-][\\w]+)?(\\/doc\\/.*) {',
    '  proxy_pass http://docservice$2$is_args$args;',
    '  proxy_http_version 1.1;',
    '}',
    '',
  ].join('\n');
}

export function renderDsExample(): string {
  return [
    'location ~ ^(\\/welcome\\/.*)$ {',
    '  expires 365d;',
    '  alias /var/www/onlyoffice/documentserver-example$1;',
    '  index linux.html;',
    '}',
    '',
    'location /example/ {',
    '  proxy_pass http://example/;',
    '  proxy_set_header X-Forwarded-Path /example;',
    '}',
    '',
  ].join('\n');
}

interface ProgramSpec {
  name: string;
  command: string;
  directory: string;
  configDir: string;
  stdout: string;
  stderr: string;
  autostart: boolean;
}

function renderProgram(spec: ProgramSpec): string {
  return [
    `[program:${spec.name}]`,
    `command=${spec.command}`,
    `directory=${spec.directory}`,
    'user=ds',
    `environment=NODE_ENV=production-linux,NODE_CONFIG_DIR=${spec.configDir},NODE_DISABLE_COLORS=1`,
    `stdout_logfile=${spec.stdout}`,
    'stdout_logfile_backups=0',
    'stdout_logfile_maxbytes=0',
    `stderr_logfile=${spec.stderr}`,
    'stderr_logfile_backups=0',
    'stderr_logfile_maxbytes=0',
    `autostart=${spec.autostart}`,
    'autorestart=true',
    '',
  ].join('\n');
}

/** conf.d files of supervisor: one per program plus the `ds` group, as the packages lay them out. */
export function renderSupervisorPrograms(withExample: boolean): Record<string, string> {
  const files: Record<string, string> = {
    'ds-docservice.conf': renderProgram({
      name: 'docservice',
      command: ON_HOST.docserviceBin,
      directory: path.dirname(ON_HOST.docserviceBin),
      configDir: ON_HOST.configDir,
      stdout: ON_HOST.docserviceOut,
      stderr: ON_HOST.docserviceErr,
      autostart: true,
    }),
    'ds-converter.conf': renderProgram({
      name: 'converter',
      command: ON_HOST.converterBin,
      directory: path.dirname(ON_HOST.converterBin),
      configDir: ON_HOST.configDir,
      stdout: ON_HOST.converterOut,
      stderr: ON_HOST.converterErr,
      autostart: true,
    }),
  };
  if (withExample) {
    // The packages install the example stopped (autostart=false); the lab starts it on healthy hosts.
    files['ds-example.conf'] = renderProgram({
      name: 'example',
      command: ON_HOST.exampleBin,
      directory: path.dirname(ON_HOST.exampleBin),
      configDir: '/etc/onlyoffice/documentserver-example',
      stdout: ON_HOST.exampleOut,
      stderr: ON_HOST.exampleErr,
      autostart: false,
    });
  }
  files['ds.conf'] = `[group:ds]\nprograms=${['docservice', 'converter', ...(withExample ? ['example'] : [])].join(',')}\n`;
  return files;
}

export function renderSupervisordConf(): string {
  return [
    '; supervisor config file',
    '',
    '[unix_http_server]',
    'file=/var/run/supervisor.sock',
    'chmod=0700',
    '',
    '[supervisord]',
    `logfile=${ON_HOST.supervisorLog}`,
    'pidfile=/var/run/supervisord.pid',
    'childlogdir=/var/log/supervisor',
    '',
    '[rpcinterface:supervisor]',
    'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
    '',
    '[supervisorctl]',
    'serverurl=unix:///var/run/supervisor.sock',
    '',
    '[include]',
    `files = ${ON_HOST.supervisorPrograms}/*.conf`,
    '',
  ].join('\n');
}

export interface OnlyofficeSecrets {
  jwtSecret: string;
  dbPassword: string;
}

export function randomSecrets(): OnlyofficeSecrets {
  return { jwtSecret: randomBytes(16).toString('hex'), dbPassword: randomBytes(9).toString('base64url') };
}

export function renderDefaultJson(): string {
  const config = {
    services: {
      CoAuthoring: {
        server: { port: 8000, workerpercpu: 1, mode: 'development', limits_tempfile_upload: 104857600 },
        sql: { type: 'postgres', dbHost: 'localhost', dbPort: 5432, dbName: 'onlyoffice', dbUser: 'onlyoffice' },
        redis: { name: 'redis', prefix: 'ds:', host: '127.0.0.1', port: 6379 },
        token: { enable: { browser: false, request: { inbox: false, outbox: false } } },
      },
    },
    rabbitmq: { url: 'amqp://guest:guest@localhost:5672' },
    storage: { name: 'storage-fs', fs: { folderPath: '' } },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

export function renderProductionJson(): string {
  const config = {
    storage: { fs: { folderPath: ON_HOST.cacheFiles } },
    FileConverter: { converter: { fontDir: '/usr/share/fonts' } },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

export function renderLocalJson(secrets: OnlyofficeSecrets): string {
  const config = {
    services: {
      CoAuthoring: {
        sql: { dbPass: secrets.dbPassword },
        token: { enable: { request: { inbox: true, outbox: true }, browser: true } },
        secret: {
          inbox: { string: secrets.jwtSecret },
          outbox: { string: secrets.jwtSecret },
          session: { string: secrets.jwtSecret },
        },
      },
    },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** Debian's redis.conf is only readable by redis: the lab keeps its own equivalent of the directives that matter. */
export function renderRedisConf(): string {
  return [
    'bind 127.0.0.1 -::1',
    'protected-mode yes',
    'port 6379',
    'daemonize yes',
    `pidfile ${ON_HOST.redisPid}`,
    'loglevel notice',
    `logfile ${ON_HOST.redisLog}`,
    'databases 16',
    'save ""',
    'dir /var/lib/redis',
    'appendonly no',
    '',
  ].join('\n');
}

export function renderHosts(hostname: string): string {
  return [`127.0.0.1\tlocalhost`, `127.0.1.1\t${hostname}`, '::1\tip6-localhost ip6-loopback', ''].join('\n');
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The stand-in for a packaged service binary: execs the lab's program in the given mode. */
export function renderServiceWrapper(nodePath: string, programPath: string, mode: string, behaviourFile: string): string {
  return [
    '#!/bin/sh',
    `exec ${shellQuote(nodePath)} ${shellQuote(programPath)} ${mode} ${shellQuote(behaviourFile)}`,
    '',
  ].join('\n');
}

export interface HostTreeOptions {
  hostname: string;
  withExample: boolean;
  withRedis: boolean;
  secrets: OnlyofficeSecrets;
  nodePath: string;
  programPath: string;
  /** uid/gid of the `ds` account the services run as, and of `redis`. */
  ds: { uid: number; gid: number };
  redis: { uid: number; gid: number };
}

async function put(file: string, content: string, mode = 0o644): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  await writeFile(file, content, { mode });
  await chmod(file, mode);
}

async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  await chown(dir, owner.uid, owner.gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(full, owner);
    else if (!entry.isSymbolicLink()) await chown(full, owner.uid, owner.gid);
  }
}

/** Writes the whole filesystem tree of a host under paths.rootDir. */
export async function writeHostTree(paths: HostPaths, opts: HostTreeOptions): Promise<void> {
  const at = (onHost: string) => inTree(paths, onHost);
  await mkdir(paths.rootDir, { recursive: true, mode: 0o755 });
  await mkdir(paths.labDir, { recursive: true, mode: 0o755 });

  // nginx: the machine's own main config and helpers, without its sites, plus the ONLYOFFICE files.
  if (!existsSync('/etc/nginx/nginx.conf')) throw new Error('/etc/nginx/nginx.conf is missing: install nginx (nginx-light)');
  await cp('/etc/nginx', at('/etc/nginx'), { recursive: true, verbatimSymlinks: true });
  for (const dir of ['conf.d', 'sites-enabled', 'sites-available']) {
    await rm(at(`/etc/nginx/${dir}`), { recursive: true, force: true });
    await mkdir(at(`/etc/nginx/${dir}`), { recursive: true, mode: 0o755 });
  }
  await put(at(ON_HOST.dsConf), renderDsConf());
  await symlink(ON_HOST.dsConf, at(ON_HOST.dsConfLink));
  await put(at(ON_HOST.httpCommon), renderHttpCommon());
  await put(at(ON_HOST.dsCommon), renderDsCommon());
  await put(at(ON_HOST.dsDocservice), renderDsDocservice());
  if (opts.withExample) await put(at(ON_HOST.dsExample), renderDsExample());

  await put(at(ON_HOST.defaultJson), renderDefaultJson(), 0o444);
  await put(at(ON_HOST.productionJson), renderProductionJson(), 0o444);
  // Holds the secrets: readable by the services' group only.
  await put(at(ON_HOST.localJson), renderLocalJson(opts.secrets), 0o640);
  await chown(at(ON_HOST.localJson), 0, opts.ds.gid);

  await put(at(ON_HOST.supervisorConf), renderSupervisordConf());
  await mkdir(at(ON_HOST.supervisorPrograms), { recursive: true, mode: 0o755 });
  for (const [name, content] of Object.entries(renderSupervisorPrograms(opts.withExample))) {
    await put(path.join(at(ON_HOST.supervisorPrograms), name), content);
  }

  const wrapper = (mode: string) => renderServiceWrapper(opts.nodePath, opts.programPath, mode, paths.behaviourFile);
  await put(at(ON_HOST.docserviceBin), wrapper('docservice'), 0o755);
  await put(at(ON_HOST.converterBin), wrapper('converter'), 0o755);
  if (opts.withExample) {
    await put(at(ON_HOST.exampleBin), wrapper('example'), 0o755);
    await put(
      at(ON_HOST.welcomePage),
      '<!DOCTYPE html>\n<html><head><title>ONLYOFFICE Docs</title></head><body><h1>Document Server is running</h1></body></html>\n',
    );
  }
  await mkdir(at('/var/www/html'), { recursive: true, mode: 0o755 });

  await put(at(ON_HOST.redisConf), renderRedisConf(), 0o640);
  await prepareOverlays(paths, opts.hostname);

  for (const dir of [
    '/var/log/nginx',
    '/var/log/supervisor',
    '/var/log/redis',
    '/var/log/onlyoffice/documentserver/docservice',
    '/var/log/onlyoffice/documentserver/converter',
    '/var/log/onlyoffice/documentserver/metrics',
    '/var/log/onlyoffice/documentserver-example',
    '/var/lib/nginx',
    '/var/lib/redis',
    ON_HOST.cacheFiles,
    '/run/sshd',
    '/run/redis',
  ]) {
    await mkdir(at(dir), { recursive: true, mode: 0o755 });
  }
  await chownTree(at('/var/log/onlyoffice'), opts.ds);
  await chownTree(at(ON_HOST.dataRoot), opts.ds);
  for (const dir of ['/etc/redis', '/var/lib/redis', '/var/log/redis', '/run/redis']) await chownTree(at(dir), opts.redis);
  if (!opts.withRedis) await rm(at(ON_HOST.redisConf), { force: true });

  await put(paths.behaviourFile, renderBehaviour({ redis: opts.withRedis, slowMs: 0, bigHeaderBytes: 0 }));
}
