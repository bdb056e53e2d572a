// The faults of check:faults --cluster that hit a node of the 3-node cluster (.ci/cluster, spec/cluster/harness.ts)
// rather than one client's link: a node killed (kill -9) and started again some seconds later, or its app stopped
// (`rabbitmqctl stop_app`: every client gets 320 CONNECTION_FORCED, a broker restart as a client sees it) and
// started again. One node down at a time (docs/cluster.md promises no more): a node fault waits for the one before
// it to end, its node running and back in the cluster.
import amqp from 'amqplib';
import { cluster, NODES, PORTS, url, type ClusterNode } from '../../spec/cluster/harness.js';

export { NODES, PORTS, url, type ClusterNode };

export type NodeFaultKind = 'kill' | 'stop_app';

/** One node fault: what, on which node, and when (performance.now()) the node went down and came back. */
export interface NodeFault {
  kind: NodeFaultKind; node: ClusterNode; downMs: number; calledAt: number; downAt?: number; upAt?: number;
  /** The loggers connected to the node when it went down. */
  hit?: string[];
}

/** The node a port of the cluster belongs to. */
export const nodeAt = (port: number): ClusterNode | undefined => NODES.find((node) => PORTS[node] === port);

/** The node order `start` places first, then the others in turn (a logger prefers the first URL). */
export const orderFrom = (start: number): ClusterNode[] => [0, 1, 2].map((i) => NODES[(start + i) % 3]!);

export class NodeFaults {
  readonly done: NodeFault[] = [];
  /** Set when the harness itself failed (a node that did not come back): the run cannot go on. */
  failure: string | undefined;
  #chain: Promise<void> = Promise.resolve();

  /** Takes `node` down now, or once the node fault before it has ended; brings it back `downMs` after. */
  hit(kind: NodeFaultKind, node: ClusterNode, downMs: number, connected: (node: ClusterNode) => string[] = () => []): Promise<void> {
    const fault: NodeFault = { kind, node, downMs, calledAt: performance.now() };
    this.done.push(fault);
    this.#chain = this.#chain.then(async () => {
      if (this.failure) return;
      try {
        fault.hit = connected(node);
        await (kind === 'kill' ? cluster.kill(node) : cluster.stopApp(node));
        fault.downAt = performance.now();
        await new Promise((resolve) => setTimeout(resolve, downMs));
        await (kind === 'kill' ? cluster.startNode(node) : cluster.startApp(node));
        fault.upAt = performance.now();
      } catch (error) {
        this.failure = `${kind} of node ${node}: ${(error as Error).message}`;
      }
    });
    return this.#chain;
  }

  /** Resolves once every node fault has ended (its node back). */
  settled(): Promise<void> {
    return this.#chain;
  }
}

/** Whether every node of the cluster answers AMQP; the first that does not, otherwise. */
export async function clusterAnswers(): Promise<string | undefined> {
  for (const node of NODES) {
    try {
      const connection = await amqp.connect(url(node));
      await connection.close();
    } catch (error) {
      return `node ${node} (${url(node)}) does not answer: ${(error as Error).message}`;
    }
  }
  return undefined;
}
