/**
 * The program that stands in for ONLYOFFICE Docs' node services on a lab host (docservice, converter,
 * example) plus the "other program" of the port-conflict fault. It is plain CommonJS kept as text:
 * supervisord runs it with the system node on every lab host, both when the lab runs from compiled
 * dist/ and when vitest runs the TypeScript sources, so it cannot be a module tsc or vite transforms.
 *
 * What it copies from the real services, because the runbooks and parsers read exactly that:
 * - config from NODE_CONFIG_DIR the way node-config merges it (default.json, $NODE_ENV.json,
 *   local.json), and node-config's "Cannot parse config file: '…': SyntaxError: …" crash on a broken file;
 * - log4js lines as docservice 7.x writes them to stdout (supervisor's out.log):
 *   `[2023-07-05T09:42:46.963] [ERROR] [localhost] [docId] [userId] nodeJS - …`;
 * - the node-redis text for a refused Redis connection, `redisClient error Error: Redis connection to
 *   127.0.0.1:6379 failed - connect ECONNREFUSED 127.0.0.1:6379`;
 * - node's own `Error: listen EADDRINUSE: address already in use :::8000` stack when the port is taken;
 * - `/healthcheck` answering `true`, or `false` after logging `healthCheck error` when storage fails;
 * - the process name (`docservice`, `converter`, `example`) that `ss -ltnp` and `ps` show.
 * Per-host knobs that only the lab changes (slow answers, an oversized header, no Redis on light hosts)
 * come from a behaviour file outside the standard paths, read on every request.
 */
export const SERVICE_PROGRAM_FILE = 'oo-lab-service.cjs';

export const SERVICE_PROGRAM_SOURCE = String.raw`'use strict';
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const MODES = ['docservice', 'converter', 'example', 'squatter'];
// The last release line packaged with supervisor (7.3 moved to systemd units).
const VERSION = '7.2.2';
const BUILD = '56';
const mode = process.argv[2];
if (!MODES.includes(mode)) {
  process.stderr.write('usage: oo-lab-service.cjs <' + MODES.join('|') + '> <behaviour.json|port>\n');
  process.exit(2);
}
// ss -ltnp and ps show the process name; the packaged services are binaries with these names.
process.title = mode === 'squatter' ? 'oo-lab-squatter' : mode;

function pad(value, width) {
  return String(value).padStart(width, '0');
}

// log4js' default %d layout: local time, ISO8601 without the zone.
function stamp(date) {
  return date.getFullYear() + '-' + pad(date.getMonth() + 1, 2) + '-' + pad(date.getDate(), 2) + 'T' +
    pad(date.getHours(), 2) + ':' + pad(date.getMinutes(), 2) + ':' + pad(date.getSeconds(), 2) + '.' +
    pad(date.getMilliseconds(), 3);
}

function log(level, message) {
  process.stdout.write('[' + stamp(new Date()) + '] [' + level + '] [localhost] [docId] [userId] nodeJS - ' + message + '\n');
}

function readBehaviour() {
  try {
    const parsed = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
    return parsed !== null && typeof parsed === 'object' ? parsed : {};
  } catch {
    return {};
  }
}

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function merge(target, source) {
  for (const key of Object.keys(source)) {
    if (isPlainObject(target[key]) && isPlainObject(source[key])) merge(target[key], source[key]);
    else target[key] = source[key];
  }
  return target;
}

function loadConfig() {
  const dir = process.env.NODE_CONFIG_DIR || '/etc/onlyoffice/documentserver';
  const names = ['default.json', (process.env.NODE_ENV || 'development') + '.json', 'local.json'];
  const config = {};
  for (const name of names) {
    const file = path.join(dir, name);
    let text;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if (error.code === 'ENOENT') continue;
      throw error;
    }
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Error("Cannot parse config file: '" + file + "': " + error);
    }
    merge(config, parsed);
  }
  return config;
}

function setting(config, dotted, fallback) {
  let node = config;
  for (const part of dotted.split('.')) {
    if (!isPlainObject(node) || !(part in node)) return fallback;
    node = node[part];
  }
  return node;
}

// One long-lived Redis connection, PINGed now and then, reconnected once when it drops: a refused
// (re)connection is logged the way node-redis words it and ends the process, so supervisor restarts it.
function watchRedis(host, port, onFirstPong) {
  let pongs = 0;
  let awaitingPong = false;
  let socket = null;
  const fail = (error) => {
    log('ERROR', 'redisClient error Error: Redis connection to ' + host + ':' + port + ' failed - ' + error.message);
    process.exit(1);
  };
  const open = () => {
    let buffered = '';
    socket = net.connect({ host: host, port: port });
    socket.setEncoding('utf8');
    socket.once('connect', () => {
      awaitingPong = true;
      socket.write('*1\r\n$4\r\nPING\r\n');
    });
    socket.on('data', (chunk) => {
      buffered += chunk;
      let end;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (line.startsWith('-')) fail(new Error(line.slice(1)));
        awaitingPong = false;
        pongs += 1;
        if (pongs === 1) onFirstPong();
      }
    });
    socket.once('error', fail);
    socket.once('end', () => socket.destroy());
    socket.once('close', (hadError) => {
      if (!hadError) setTimeout(open, 100);
    });
  };
  open();
  setInterval(() => {
    if (awaitingPong) {
      fail(new Error('connect ETIMEDOUT ' + host + ':' + port));
      return;
    }
    if (socket && !socket.destroyed && socket.writable) {
      awaitingPong = true;
      socket.write('*1\r\n$4\r\nPING\r\n');
    }
  }, 5000);
}

function notFound(res, url) {
  res.statusCode = 404;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  const safe = url.replace(/[<>&"']/g, '');
  res.end('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot GET ' + safe + '</pre>\n</body>\n</html>\n');
}

function docservice() {
  const config = loadConfig();
  const port = Number(setting(config, 'services.CoAuthoring.server.port', 8000));
  const redisHost = String(setting(config, 'services.CoAuthoring.redis.host', '127.0.0.1'));
  const redisPort = Number(setting(config, 'services.CoAuthoring.redis.port', 6379));
  const cacheDir = String(setting(config, 'storage.fs.folderPath', '/var/lib/onlyoffice/documentserver/App_Data/cache/files'));

  const healthcheck = (res) => {
    const probe = path.join(cacheDir, 'healthcheck-' + process.pid);
    const answer = (ok) => {
      res.setHeader('Content-Type', 'text/plain');
      res.end(ok ? 'true' : 'false');
    };
    fs.writeFile(probe, 'healthcheck', (error) => {
      if (error) {
        log('ERROR', 'healthCheck error ' + error.stack);
        answer(false);
        return;
      }
      fs.unlink(probe, () => answer(true));
    });
  };

  const server = http.createServer((req, res) => {
    const behaviour = readBehaviour();
    const respond = () => {
      const padding = Number(behaviour.bigHeaderBytes) || 0;
      if (padding > 0) res.setHeader('Set-Cookie', 'ds_session=' + 'a'.repeat(padding) + '; Path=/');
      const url = (req.url || '/').split('?')[0];
      if (url === '/healthcheck' || url === '/healthcheck/') healthcheck(res);
      else notFound(res, url);
    };
    const delay = Number(behaviour.slowMs) || 0;
    if (delay > 0) setTimeout(respond, delay);
    else respond();
  });
  server.on('error', (error) => {
    log('ERROR', error.stack);
    process.exit(1);
  });
  const listen = () => {
    server.listen(port, () => {
      log('WARN', 'Express server listening on port ' + port + ' in ' + (process.env.NODE_ENV || 'development') +
        ' mode. Version: ' + VERSION + '. Build: ' + BUILD);
    });
  };

  log('WARN', 'Express server starting...');
  if (readBehaviour().redis === false) listen();
  else watchRedis(redisHost, redisPort, listen);
}

function converter() {
  loadConfig();
  // No port: the real converter takes its work from the message queue and just stays up.
  setInterval(() => undefined, 1 << 30);
}

function example() {
  const port = 3000;
  const server = http.createServer((req, res) => {
    const url = (req.url || '/').split('?')[0];
    if (url !== '/') {
      notFound(res, url);
      return;
    }
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end('<!DOCTYPE html>\n<html>\n<head><title>ONLYOFFICE Document Editors</title></head>\n<body><h1>ONLYOFFICE Document Editors</h1></body>\n</html>\n');
  });
  server.on('error', (error) => {
    process.stderr.write(error.stack + '\n');
    process.exit(1);
  });
  server.listen(port, () => process.stdout.write('Express server listening on port ' + port + '\n'));
}

// Another program holding the docservice port: it takes connections and drops them unanswered.
function squatter() {
  const port = Number(process.argv[3]);
  const server = net.createServer((socket) => socket.destroy());
  server.on('error', (error) => {
    process.stderr.write(error.stack + '\n');
    process.exit(1);
  });
  server.listen(port);
}

({ docservice, converter, example, squatter })[mode]();
`;
