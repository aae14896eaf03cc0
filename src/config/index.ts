export { ConfigError, configPath, loadConfig, parseConfig, type ParseConfigOptions } from './load.js';
export {
  CONTAINER_NAME_PATTERN,
  HOST_NAME_PATTERN,
  INSTALLS,
  configSchema,
  type Config,
  type HostConfig,
  type HostConfigInput,
  type Install,
  type SshSettings,
} from './schema.js';
export { resolveHost, resolveTargets, UnknownTargetError, type ResolvedHost } from './targets.js';
export { formatProblem, YamlFileError, type YamlProblem } from './yaml-errors.js';
