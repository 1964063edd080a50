// A workflow's continue-as-new chain as the scheduling benches report it: every execution with the
// workflow id (through visibility), its status and history size, and whether the chain is whole.
import type { Client } from '@temporalio/client';

export interface ChainExecution {
  runId: string;
  status: string;
  events: number;
  bytes: number;
}

export interface WorkflowChain {
  executions: ChainExecution[];
  largestEvents: ChainExecution | undefined;
  largestBytes: ChainExecution | undefined;
  /** Set unless exactly one execution completed and every other continued as new. */
  problem?: string;
}

export async function workflowChain(client: Client, workflowId: string): Promise<WorkflowChain> {
  const executions: ChainExecution[] = [];
  for await (const info of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const d = await client.workflow.getHandle(workflowId, info.runId).describe();
    executions.push({ runId: info.runId, status: d.status.name, events: d.historyLength, bytes: d.historySize ?? NaN });
  }
  const completed = executions.filter((e) => e.status === 'COMPLETED').length;
  const continued = executions.filter((e) => e.status === 'CONTINUED_AS_NEW').length;
  return {
    executions,
    largestEvents: executions.reduce<ChainExecution | undefined>((a, e) => (!a || e.events > a.events ? e : a), undefined),
    largestBytes: executions.reduce<ChainExecution | undefined>((a, e) => (!a || e.bytes > a.bytes ? e : a), undefined),
    ...((completed !== 1 || continued !== executions.length - 1) && { problem: `chain: ${completed} completed, ${continued} continued-as-new of ${executions.length}` }),
  };
}
