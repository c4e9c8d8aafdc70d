/** IPC messages between ProcessHandlerInvoker and its workers. Internal. */

/** Parent to worker. */
export type ParentMessage = {
  readonly type: 'invoke';
  readonly id: number;
  readonly event: unknown;
  readonly context: {
    readonly awsRequestId: string;
    readonly functionName: string;
    readonly invokedFunctionArn: string;
    /** Epoch ms at which the invocation times out. */
    readonly deadline: number;
  };
};

/** Worker to parent. */
export type WorkerMessage =
  | { readonly type: 'ready'; readonly initMs: number }
  | { readonly type: 'init-error'; readonly errorType: string; readonly errorMessage: string }
  | { readonly type: 'result'; readonly id: number; readonly ok: true; readonly json: string }
  | {
      readonly type: 'result';
      readonly id: number;
      readonly ok: false;
      readonly errorType: string;
      readonly errorMessage: string;
    };
