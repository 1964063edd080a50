// The local stack's per-data-dir lock (infra/stack-lock.ts), on its own: waiting for a live
// holder, taking over from a dead one, and a clear error when a holder never lets go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { STACK_LOCK_FILE, withStackLock } from '../infra/stack-lock.js';

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'thresher-stack-lock-'));
}

/** A pid that certainly belongs to no running process: a child that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(child.stdout.trim());
}

test('a lock left by a dead process is taken over, and the lock file is gone afterwards', async () => {
  const dir = await tempDir();
  try {
    const lock = path.join(dir, STACK_LOCK_FILE);
    await writeFile(lock, `${deadPid()}\n`);
    let heldBy = '';
    const result = await withStackLock(dir, 5_000, async () => {
      heldBy = await readFile(lock, 'utf8');
      return 42;
    });
    assert.equal(result, 42);
    assert.equal(heldBy.trim(), String(process.pid));
    assert.equal(existsSync(lock), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a lock held by a live process is waited for, then taken once that process has exited', async () => {
  const dir = await tempDir();
  try {
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1500)']);
    await writeFile(path.join(dir, STACK_LOCK_FILE), `${holder.pid}\n`);
    const exited = new Promise<number>((resolve) => holder.on('exit', () => resolve(Date.now())));
    let ranAt = 0;
    await withStackLock(dir, 30_000, async () => {
      ranAt = Date.now();
    });
    assert.ok(ranAt >= (await exited), 'the critical section ran only after the holder had exited');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('callers in one process run one at a time, in order, and a failure does not wedge the next', async () => {
  const dir = await tempDir();
  try {
    const events: string[] = [];
    const section = (name: string, fail = false) => withStackLock(dir, 5_000, async () => {
      events.push(`${name} in`);
      await new Promise((r) => setTimeout(r, 50));
      events.push(`${name} out`);
      if (fail) throw new Error(`${name} failed`);
      return name;
    });
    const results = await Promise.allSettled([section('a'), section('b', true), section('c')]);
    assert.deepEqual(events, ['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a holder that never lets go gives an error naming the lock file and its pid', async () => {
  const dir = await tempDir();
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    await writeFile(path.join(dir, STACK_LOCK_FILE), `${holder.pid}\n`);
    await assert.rejects(
      withStackLock(dir, 600, async () => assert.fail('must not run while another process holds the lock')),
      (err: Error) => err.message.includes(path.join(dir, STACK_LOCK_FILE)) && err.message.includes(`pid ${holder.pid}`),
    );
  } finally {
    holder.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
