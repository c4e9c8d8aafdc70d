/**
 * cdk-nag's AwsSolutions and Serverless packs on the demo stack, with each
 * on-failure destination. Every finding is either fixed or acknowledged where
 * it arises with a written reason (`Validations.of(scope).acknowledge`, the
 * cdk-nag 3 mechanism); any other finding fails synth, and so this test. The
 * acknowledged rule ids are pinned here and listed in docs/deploy.md, so a new
 * acknowledgement is a reviewed change.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { WeirDemoStack } from '../../cdk/stacks/weir-demo-stack.ts';
import { WeirOperator, type OnFailureDestinationType } from '../../cdk/constructs/weir-operator.ts';
import { ENTRY, PIPELINE } from './support.ts';

interface Finding {
  readonly rule: string;
  readonly severity: string;
  readonly path: string;
}

interface Report {
  readonly pluginReports: readonly {
    readonly pluginName: string;
    readonly violations: readonly {
      readonly ruleName: string;
      readonly severity: string;
      readonly violatingConstructs: readonly { readonly constructPath: string }[];
    }[];
  }[];
}

/** Synthesizes `app`; the findings of the validation report when the validation failed. */
function synthFindings(app: App, outdir: string): Finding[] {
  const findings: Finding[] = [];
  try {
    app.synth();
  } catch (err) {
    const reportFile = path.join(outdir, 'validation-report.json');
    if (!fs.existsSync(reportFile)) throw err;
    const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as Report;
    for (const p of report.pluginReports)
      for (const v of p.violations)
        for (const c of v.violatingConstructs)
          findings.push({ rule: v.ruleName, severity: v.severity, path: c.constructPath });
  }
  return findings;
}

/** Synthesizes the demo stack with both packs; returns the unacknowledged findings and every acknowledgement. */
function nag(onFailure: OnFailureDestinationType): {
  findings: Finding[];
  acknowledged: Map<string, string>;
} {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-nag-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    new WeirDemoStack(app, 'WeirDemo', {
      onFailure,
      env: { account: '111111111111', region: 'eu-west-1' },
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    const findings = synthFindings(app, outdir);
    const acknowledged = new Map<string, string>();
    for (const c of app.node.findAll()) {
      for (const m of c.node.metadata) {
        if (m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(m.data as Record<string, string>))
          acknowledged.set(`${c.node.path.replace(/^WeirDemo\//, '')} ${id}`, reason);
      }
    }
    return { findings, acknowledged };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** Acknowledgements every variant has: `<construct path> <rule id>`. */
const COMMON = [
  'ClickCounter AwsSolutions-S1',
  'ClickCounter/CheckpointFunction Serverless-LambdaAsyncFailureDestination',
  'ClickCounter/CheckpointFunction Serverless-LambdaDLQ',
  'ClickCounter/CheckpointFunction Serverless-LambdaTracing',
  'ClickCounter/CheckpointFunctionRole AwsSolutions-IAM5[Resource::<ClickCounterCheckpointBucket6DA77ED7.Arn>/weir/click-counter/checkpoints/*]',
  'ClickCounter/CheckpointSchedule Serverless-EventBusDLQ',
  'ClickCounter/Function Serverless-LambdaDLQ',
  'ClickCounter/Function Serverless-LambdaTracing',
  'ClickCounter/FunctionRole AwsSolutions-IAM5[Resource::<ClickCounterCheckpointBucket6DA77ED7.Arn>/weir/click-counter/dead-letter/*]',
  'ClickCounter/FunctionRole AwsSolutions-IAM5[Resource::<ClickCounterCheckpointBucket6DA77ED7.Arn>/weir/click-counter/late/*]',
  'ClickCounter/TickerFunction Serverless-LambdaAsyncFailureDestination',
  'ClickCounter/TickerFunction Serverless-LambdaDLQ',
  'ClickCounter/TickerFunction Serverless-LambdaTracing',
  'ClickCounter/TickerSchedule Serverless-EventBusDLQ',
];

describe('cdk-nag on the demo stack', () => {
  it.each([
    [
      'sqs',
      [
        'ClickCounter/FailureQueue AwsSolutions-SQS3',
        'ClickCounter/FailureQueue Serverless-SQSRedrivePolicy',
      ],
    ],
    ['sns', []],
    [
      's3',
      [
        'ClickCounter/FunctionRole AwsSolutions-IAM5[Resource::<ClickCounterFailureBucket6A18C8D3.Arn>/*]',
      ],
    ],
  ] as const)(
    'GIVEN the AwsSolutions and Serverless packs and onFailure %s WHEN synthesized THEN no finding is left unacknowledged, and each acknowledgement has a reason',
    (onFailure, extra) => {
      const { findings, acknowledged } = nag(onFailure);
      expect(findings).toEqual([]);
      expect([...acknowledged.keys()].map((k) => k.replace(/ [A-Za-z]+::/, ' ')).sort()).toEqual(
        [...COMMON, ...extra].sort(),
      );
      for (const reason of acknowledged.values()) expect(reason.length).toBeGreaterThan(40);
    },
  );

  it('GIVEN the operator in a stack that passes no access-log bucket and acknowledges nothing WHEN synthesized THEN the S1 findings fail synth (the check is live)', () => {
    const { findings } = nagStack((stack) => {
      new WeirOperator(stack, 'Op', { pipeline: PIPELINE, entry: ENTRY, onFailure: 's3' });
    });
    expect(findings.map((f) => `${f.rule} ${f.path}`).sort()).toEqual([
      'AwsSolutions-S1 Test/Op/CheckpointBucket/Resource',
      'AwsSolutions-S1 Test/Op/FailureBucket/Resource',
    ]);
  });

  it('GIVEN serverAccessLogsBucket WHEN synthesized THEN S1 is fixed rather than acknowledged', () => {
    const { findings } = nagStack((stack) => {
      const logs = new s3.Bucket(stack, 'AccessLogs', {
        enforceSSL: true,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      });
      Validations.of(logs).acknowledge({
        id: 'AwsSolutions-S1',
        reason: 'This is the access-log bucket itself; logging it into itself would loop.',
      });
      new WeirOperator(stack, 'Op', {
        pipeline: PIPELINE,
        entry: ENTRY,
        onFailure: 's3',
        serverAccessLogsBucket: logs,
      });
    });
    expect(findings).toEqual([]);
  });
});

/** Runs both packs on a test stack built by `build`; returns the unacknowledged findings. */
function nagStack(build: (stack: Stack) => void): { findings: Finding[] } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-nag-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    build(new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } }));
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    return { findings: synthFindings(app, outdir) };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}
