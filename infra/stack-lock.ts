// One devUp/devDown at a time per data dir. Two commands started together without
// TEMPORAL_ADDRESS (a worker in one terminal, `thresher run start` in another) would otherwise
// both find nothing running and both spawn Temporal and SeaweedFS on the same ports and files; the
// loser's cleanup then deleted the winner's pid file, so `dev down` could no longer stop it.
//
// The lock is a file created with O_EXCL holding the owner's pid. A lock whose owner has died
// (a killed command) is stale and taken over. Within one process, callers queue on a promise
// chain, since the file alone cannot tell two calls of the same pid apart.
import { open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { isPidAlive, log, sleep } from './processes.js';

export const STACK_LOCK_FILE = '.stack.lock';
const POLL_MS = 200;
/** A lock file still without a pid after this long was left by a process that died creating it. */
const UNWRITTEN_STALE_MS = 10_000;

const inProcess = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` holding the data dir's stack lock, waiting up to `timeoutMs` for another holder (which
 * may be installing binaries, so the wait is long). The lock is released however `fn` ends.
 */
export async function withStackLock<T>(dataDir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const key = path.resolve(dataDir);
  const before = inProcess.get(key) ?? Promise.resolve();
  const mine = before.catch(() => undefined).then(async () => {
    const file = path.join(key, STACK_LOCK_FILE);
    await acquire(file, timeoutMs);
    try {
      return await fn();
    } finally {
      await rm(file, { force: true });
    }
  });
  inProcess.set(key, mine);
  try {
    return await mine;
  } finally {
    if (inProcess.get(key) === mine) inProcess.delete(key);
  }
}

async function acquire(file: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await lockOwner(file);
    if (owner !== null ? !isPidAlive(owner) : await olderThan(file, UNWRITTEN_STALE_MS)) {
      log('warn', 'taking over a stale local-stack lock', { lock: file, deadPid: owner });
      await rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `local stack: another command (pid ${owner ?? 'unknown'}) has held ${file} for over ${Math.round(timeoutMs / 1000)} s ` +
          'while starting or stopping the services; wait for it, or delete the file if that process is not a thresher command',
      );
    }
    if (!announced) {
      log('info', 'waiting for another command to finish starting or stopping the local stack', { lock: file, pid: owner });
      announced = true;
    }
    await sleep(POLL_MS);
  }
}

/** The pid in the lock file; null while the owner is still writing it or when it is unreadable. */
async function lockOwner(file: string): Promise<number | null> {
  try {
    const pid = Number.parseInt(await readFile(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

async function olderThan(file: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(file)).mtimeMs > ms;
  } catch {
    return false; // gone already: the next attempt creates it
  }
}
