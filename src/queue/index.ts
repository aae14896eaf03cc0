export { OoQueues, DIAGNOSIS_QUEUE, REMEDIATION_QUEUE, type OoQueuesOptions, type EnqueueResult } from './queues.js';
export {
  DiagnosisWorker,
  HostBusyError,
  type DiagnosisJob,
  type DiagnosisProgress,
  type DiagnosisSummary,
  type DiagnosisWorkerOptions,
} from './diagnosis-worker.js';
export {
  RemediationWorker,
  type RefusedReport,
  type RemediationJob,
  type RemediationJobRef,
  type RemediationJobSummary,
  type RemediationReport,
  type RemediationWorkerOptions,
  type UnknownReport,
} from './remediation-worker.js';
export { RemediationRecords, type RemediationRecord, type RemediationRecordState } from './remediation-records.js';
export { HostLock, type HeldHostLock, type HostLockMode, type HostLockOptions, type HostLockState } from './host-lock.js';
export {
  InvalidJobDataError,
  diagnosisJobSchema,
  remediationJobSchema,
  parseDiagnosisJob,
  parseRemediationJob,
  type DiagnosisJobData,
  type DiagnosisRequest,
  type RemediationJobData,
} from './jobs.js';
export { keyspace, assertPrefix, isHashTagPrefix, InvalidKeyPartError, type Keyspace } from './keys.js';
export {
  createRedisClient,
  clientOptions,
  describeConnection,
  keyHoldingNodes,
  waitForReady,
  RedisUnavailableError,
  type RedisClient,
  type RedisConnection,
  type RedisEndpoint,
  type RedisRole,
} from './redis.js';
