/**
 * The attribute names the viewer reads: OpenTelemetry semantic conventions (stable), and the
 * `request_id` field @obs puts on every log line of a request (forwarded as a log record attribute).
 */
export {
  ATTR_EXCEPTION_MESSAGE,
  ATTR_EXCEPTION_STACKTRACE,
  ATTR_EXCEPTION_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  METRIC_HTTP_SERVER_REQUEST_DURATION,
} from '@opentelemetry/semantic-conventions';

/** Log record attribute carrying the request id (`X-Request-Id`) of the request it was logged in. */
export const ATTR_REQUEST_ID = 'request_id';
