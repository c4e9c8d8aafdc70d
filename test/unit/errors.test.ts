/** The error-description helpers every adapter and the runtime use. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/index.ts';
import { describeError, errorName } from '../../lib/errors.ts';

describe('describeError', () => {
  it('GIVEN an Error THEN it reads "Name: message"; GIVEN anything else THEN String(value)', () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    expect(describeError(throttled)).toBe('ThrottlingException: Rate exceeded');
    expect(describeError(new ConfigError('batchSize', 0, 'must be 1..10000'))).toBe(
      'ConfigError: batchSize must be 1..10000 (given 0)',
    );
    expect(describeError('boom')).toBe('boom');
    expect(describeError(undefined)).toBe('undefined');
  });
});

describe('errorName', () => {
  it('GIVEN an AWS exception THEN its name', () => {
    expect(errorName({ name: 'ConditionalCheckFailedException', $fault: 'client' })).toBe(
      'ConditionalCheckFailedException',
    );
  });

  it('GIVEN a Node system error (named Error) THEN its code', () => {
    expect(errorName(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(
      'ECONNRESET',
    );
  });

  it('GIVEN a plain Error or a non-object THEN "Error"', () => {
    expect(errorName(new Error('x'))).toBe('Error');
    expect(errorName('x')).toBe('Error');
    expect(errorName(null)).toBe('Error');
  });
});
