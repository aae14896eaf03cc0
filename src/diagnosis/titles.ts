import type { CauseId } from './vocabulary.js';

/** What each cause means, in the words an on-call engineer reads first. */
export const CAUSE_TITLES: Record<CauseId, string> = {
  backend_down: 'ONLYOFFICE docservice is not running or not listening',
  backend_crashloop: 'An ONLYOFFICE service keeps crashing and restarting',
  wrong_upstream_port: 'nginx proxies to a port nobody listens on; the backend listens elsewhere',
  port_conflict: "Another process holds the backend's port, so it cannot start",
  upstream_timeout: "The backend answers slower than nginx's proxy timeouts",
  header_too_big: "The backend's response headers overflow nginx's proxy buffers",
  selinux_denial: 'SELinux stops nginx from connecting to the backend',
  firewall_block: "A firewall drops or rejects the backend's port",
  dns_resolution: 'The upstream host name does not resolve',
  tls_upstream: 'TLS between nginx and the backend fails',
  dependency_postgres: 'The backend cannot use its database (PostgreSQL/MySQL)',
  dependency_rabbitmq: 'The backend cannot use its message broker (RabbitMQ)',
  dependency_redis: 'The backend cannot reach Redis',
  oom_killed: 'The backend was killed for lack of memory',
  disk_full: 'No space left where the services write',
  fd_exhaustion: 'Out of file descriptors (too many open files)',
  nginx_down: 'nginx itself is not running',
  nginx_config_invalid: 'The nginx configuration does not pass nginx -t',
  example_not_started: 'The test example ("Go to test example") is not running',
  host_unreachable: 'The host could not be reached over SSH',
  other: 'A fault was seen that fits none of the known causes',
};
