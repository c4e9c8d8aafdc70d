/** The output contracts, run against the in-memory adapters. */
import {
  InMemoryDeadLetterOutput,
  InMemoryLateRecordSink,
  InMemoryResultSink,
} from '../../lib/adapters/sinks.ts';
import { describeDeadLetterContract } from './dead-letter.contract.ts';
import { describeLateRecordSinkContract } from './late-record-sink.contract.ts';
import { describeResultSinkContract } from './result-sink.contract.ts';

describeResultSinkContract('InMemoryResultSink', () => {
  const store = new InMemoryResultSink();
  return {
    newSink: () => store,
    readBack: (operator, key, window) => Promise.resolve(store.latest(operator, key, window)),
    reportsDuplicates: true,
  };
});

describeDeadLetterContract('InMemoryDeadLetterOutput', () => {
  const deadLetter = new InMemoryDeadLetterOutput();
  return {
    deadLetter,
    readAll: (operator) =>
      Promise.resolve(deadLetter.entries().filter((e) => e.operator === operator)),
    idempotent: true,
  };
});

describeLateRecordSinkContract('InMemoryLateRecordSink', () => {
  const sink = new InMemoryLateRecordSink();
  return {
    sink,
    readAll: (operator) => Promise.resolve(sink.items().filter((r) => r.operator === operator)),
    idempotent: true,
  };
});
