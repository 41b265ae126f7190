/** The map key of a topic partition. */
export const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** Per-partition state of a component (chainer, checkpointer), created on first use. */
export interface PartitionStates<S> {
  /** The partition's state, created by `create` on first use. */
  get(topic: string, partition: number): S;
  /** The partition's state if it has one. */
  find(topic: string, partition: number): S | undefined;
  delete(topic: string, partition: number): void;
  values(): IterableIterator<S>;
}

export function partitionStates<S>(create: (topic: string, partition: number) => S): PartitionStates<S> {
  const states = new Map<string, S>();
  return {
    get(topic, partition) {
      const k = partitionKey(topic, partition);
      let st = states.get(k);
      if (st === undefined) {
        st = create(topic, partition);
        states.set(k, st);
      }
      return st;
    },
    find: (topic, partition) => states.get(partitionKey(topic, partition)),
    delete: (topic, partition) => void states.delete(partitionKey(topic, partition)),
    values: () => states.values(),
  };
}
