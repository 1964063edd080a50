// Deals work items (batches) out to lanes (summariser threads): each item goes to the lane with
// the fewest items outstanding, at most `perLane` each, and the next item is pulled only when a
// lane has room. Dealing in turn (item i to lane i mod lanes) with results taken in order tied
// every lane to the slowest: a lane that falls behind (sharing its core with the main thread, a GC
// pause, a slower device) made the others wait with results in hand. Finished items are still
// reported in the order they were sent, so progress counts only items before which every item is
// finished. Used by summariseParts (the statistics stage) and by bench:stats' encode-only
// baseline, so both sides of the bench deal their batches the same way. On the 2-core dev VM the
// bench's ratio did not move measurably with it (see README, "bench:stats: what was measured").

export interface DealOptions<T, R> {
  lanes: number;
  /** Items outstanding (sent and not finished) per lane, at least 1. */
  perLane: number;
  /** The items, pulled one at a time when a lane has room; returned early (return()) if dealing stops. */
  items: AsyncIterator<T> | Iterator<T>;
  /** Sends an item to a lane; undefined when the item needs no lane (it is finished at once). */
  send(lane: number, item: T): Promise<R> | undefined;
  /** Each finished item, in send order (its result undefined if send gave none). */
  onDone(item: T, result: R | undefined): void;
  signal?: AbortSignal;
}

interface Sent<T, R> {
  item: T;
  done: boolean;
  result: R | undefined;
}

/**
 * Deals every item and resolves when all are finished and reported. Rejects with the first error
 * of a pull, a send or a lane (or the signal's abort); nothing is reported after it, and items
 * still in lanes are left to finish there (their failures are handled, never unhandled).
 */
export async function dealToLanes<T, R>(o: DealOptions<T, R>): Promise<void> {
  const { lanes, perLane, items, signal } = o;
  if (!Number.isInteger(lanes) || lanes < 1) throw new RangeError(`lanes must be a positive integer, got ${lanes}`);
  if (!Number.isInteger(perLane) || perLane < 1) throw new RangeError(`perLane must be a positive integer, got ${perLane}`);
  const outstanding = new Array<number>(lanes).fill(0);
  const unreported: Sent<T, R>[] = [];
  let exhausted = false;
  let failure: { error: unknown } | undefined;
  /** Wakes the loop when an item finishes or fails; `settledMeanwhile` says one did while it was not waiting. */
  let wake: (() => void) | undefined;
  let settledMeanwhile = false;
  const settled = () => {
    if (wake) wake();
    else settledMeanwhile = true;
    wake = undefined;
  };
  /** The lane with the fewest items outstanding (the lowest-numbered on a tie), or -1 if all are full. */
  const laneWithRoom = (): number => {
    let best = -1;
    for (let lane = 0; lane < lanes; lane++) {
      if (outstanding[lane] < perLane && (best < 0 || outstanding[lane] < outstanding[best])) best = lane;
    }
    return best;
  };
  /** Sends items while a lane has room and items are left. */
  const fill = async () => {
    while (!exhausted && !failure && laneWithRoom() >= 0) {
      signal?.throwIfAborted();
      const next = await items.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      const entry: Sent<T, R> = { item: next.value, done: false, result: undefined };
      unreported.push(entry);
      // Chosen after the pull, not before: a lane may have finished an item meanwhile.
      const lane = laneWithRoom();
      const pending = o.send(lane, entry.item);
      if (!pending) {
        entry.done = true;
        continue;
      }
      outstanding[lane]++;
      pending.then((result) => {
        outstanding[lane]--;
        entry.done = true;
        entry.result = result;
        settled();
      }, (error: unknown) => {
        failure ??= { error };
        settled();
      });
    }
  };
  /** Reports the finished items at the head of the send order. */
  const report = () => {
    while (unreported.length && unreported[0].done) {
      signal?.throwIfAborted();
      const { item, result } = unreported.shift()!;
      o.onDone(item, result);
    }
  };
  try {
    for (;;) {
      await fill();
      if (failure) throw failure.error;
      signal?.throwIfAborted();
      report();
      if (exhausted && unreported.length === 0) return;
      // Items are outstanding (fill sends whenever a lane has room), so one will settle; if one
      // already has since the last pass, go round again at once.
      if (!settledMeanwhile) await new Promise<void>((resolve) => (wake = resolve));
      settledMeanwhile = false;
    }
  } finally {
    if (!exhausted) await Promise.resolve(items.return?.()).catch(() => undefined);
  }
}
