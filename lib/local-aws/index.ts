export {
  startLocalAws,
  connectLocalAws,
  localAwsFromEnv,
  dynamoDbLocalJar,
  type LocalAws,
  type LocalAwsOptions,
  type StartupTimes,
} from './start-local-aws.ts';
export { freeLoopbackPort } from './free-port.ts';
