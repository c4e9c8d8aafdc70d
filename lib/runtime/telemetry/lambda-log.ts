/**
 * The runtime's structured log lines through Powertools for AWS Lambda's
 * `Logger`: one JSON line per entry with the level, the message, the
 * operator, the Lambda request id and cold-start flag (once an invocation's
 * context is added), the X-Ray trace id when there is one, then the entry's
 * own fields (shard, counts, error...). `level` and `msg` come first, so a
 * line reads the same as the runtime's plain JSON lines did:
 *
 *   {"level":"INFO","msg":"batch","timestamp":"…","operator":"click-counter",
 *    "cold_start":true,"function_request_id":"c6af9ac6-…","shardId":"shardId-000000000000",…}
 *
 * The log level is Powertools' (`POWERTOOLS_LOG_LEVEL`, or Lambda's advanced
 * logging controls); INFO by default.
 */
import { LogFormatter, LogItem, Logger } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import type { RuntimeLog } from '../operator-runtime.ts';

/** Formats Powertools log items as weir's log lines (`level`, `msg`, then context, then fields). */
export class WeirLogFormatter extends LogFormatter {
  formatAttributes(a: UnformattedAttributes, additional: LogAttributes): LogItem {
    const ctx = a.lambdaContext;
    return new LogItem({
      attributes: {
        level: a.logLevel,
        msg: a.message,
        timestamp: this.formatTimestamp(a.timestamp),
        operator: a.serviceName,
        cold_start: ctx?.coldStart,
        function_name: ctx?.functionName,
        function_request_id: ctx?.awsRequestId,
        xray_trace_id: a.xRayTraceId,
      },
    }).addAttributes(additional);
  }
}

/**
 * A Powertools logger for one operator, writing weir's log lines.
 *
 * @example
 * const logger = operatorLogger('click-counter');
 * logger.addContext(context); // per invocation: request id, cold start
 */
export function operatorLogger(operator: string): Logger {
  return new Logger({ serviceName: operator, logFormatter: new WeirLogFormatter() });
}

/**
 * The runtime's {@link RuntimeLog} hook onto a Powertools logger: the entry's
 * `level` picks the method (ERROR, WARN, DEBUG, INFO otherwise), `msg` is the
 * message, the other fields go on the line (`operator` comes from the logger).
 *
 * @example
 * new OperatorRuntime({ ..., log: runtimeLogOf(operatorLogger(definition.name)) });
 */
export function runtimeLogOf(logger: Logger): RuntimeLog {
  return (entry) => {
    const { level, msg, operator: _operator, ...fields } = entry;
    const message = typeof msg === 'string' ? msg : JSON.stringify(msg ?? '');
    switch (typeof level === 'string' ? level.toUpperCase() : 'INFO') {
      case 'ERROR':
        logger.error(message, fields);
        break;
      case 'WARN':
        logger.warn(message, fields);
        break;
      case 'DEBUG':
        logger.debug(message, fields);
        break;
      default:
        logger.info(message, fields);
    }
  };
}
