/**
 * @obs/testkit: helpers for the integration tests and the demo of @obs.
 *
 * @packageDocumentation
 */

export { freePort } from './free-port.js';
export {
  type OtlpGrpcReceiver,
  type OtlpGrpcReceiverOptions,
  type ReceivedGrpcCall,
  startOtlpGrpcReceiver,
} from './otlp-grpc-receiver.js';
export {
  type Attributes,
  type OtlpReceiver,
  type OtlpReceiverOptions,
  type ReceivedDataPoint,
  type ReceivedExemplar,
  type ReceivedLog,
  type ReceivedMetric,
  type ReceivedRequest,
  type ReceivedScope,
  type ReceivedSpan,
  spanTree,
  startOtlpReceiver,
  type WaitForOptions,
} from './otlp-receiver.js';
export {
  installPackedApp,
  PACKED_APP_TIMEOUT_MS,
  type PackedApp,
  type PackedAppOptions,
  type PackedService,
  type PackedServiceOptions,
  startPackedApp,
} from './packed.js';
export { type RawRequestOptions, type RawResponse, rawRequest, tryConnect } from './raw-request.js';
export {
  type ReceivedEnvelope,
  type ReceivedEnvelopeItem,
  type ReceivedSentryEvent,
  type SentryIngest,
  type SentryIngestOptions,
  startSentryIngest,
} from './sentry-ingest.js';
export {
  type ExitInfo,
  type LogLine,
  type NodeRun,
  PROMPT_EXIT_MS,
  PROMPT_SHUTDOWN_ENV,
  runNode,
  type Service,
  type ServiceOptions,
  startService,
} from './service.js';
