#!/usr/bin/env bash
# Deploys WeirDemoStack to LocalStack with cdklocal (aws-cdk-local, pinned in
# package.json) wrapping the project's pinned aws-cdk CLI. See docs/localstack.md.
#
#   AWS_ENDPOINT_URL=http://localhost:4566 scripts/cdklocal-deploy.sh [extra cdk args]
set -euo pipefail
cd "$(dirname "$0")/.."

: "${AWS_ENDPOINT_URL:?AWS_ENDPOINT_URL is not set. Start LocalStack (docker compose up -d localstack) and export AWS_ENDPOINT_URL=http://localhost:4566}"
# cdklocal >= 3 strips AWS_* variables for CDK >= 2.177 and needs an S3
# endpoint containing ".s3." to recognise S3 requests (virtual-host style).
if [[ -z "${AWS_ENDPOINT_URL_S3:-}" ]]; then
  host_port="${AWS_ENDPOINT_URL#*://}"
  scheme="${AWS_ENDPOINT_URL%%://*}"
  if [[ "$host_port" == localhost:* || "$host_port" == 127.0.0.1:* ]]; then
    export AWS_ENDPOINT_URL_S3="${scheme}://s3.localhost.localstack.cloud:${host_port#*:}"
  else
    echo "Set AWS_ENDPOINT_URL_S3 to LocalStack's S3 endpoint (it must contain '.s3.')." >&2
    exit 2
  fi
fi
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_ENVAR_ALLOWLIST="AWS_REGION,AWS_DEFAULT_REGION,AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY"
export CDK_DEFAULT_ACCOUNT=000000000000 CDK_DEFAULT_REGION="$AWS_REGION"

npx tsx -e "
import('./lib/runtime/local/localstack-health.ts').then(({ waitForLocalStack }) => waitForLocalStack({
  endpoint: process.env.AWS_ENDPOINT_URL,
  services: ['cloudformation', 's3', 'iam', 'sts', 'lambda', 'kinesis', 'dynamodb', 'sqs'],
  timeoutMs: 120000,
})).catch((e) => { console.error(e.message); process.exit(2); });
" || { echo "LocalStack is not ready at $AWS_ENDPOINT_URL" >&2; exit 2; }

npx cdklocal --version
npx cdklocal bootstrap "aws://000000000000/${AWS_REGION}"
npx cdklocal deploy --require-approval never --outputs-file cdk.out/localstack-outputs.json "$@"
echo "Outputs written to cdk.out/localstack-outputs.json"
