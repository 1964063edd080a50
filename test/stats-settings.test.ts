// `thresher stats start --config FILE`: the settings file is checked field by field before any
// service is touched, with the same rules as a run config's `stats` section.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readStatsSettings } from '../cli/stats-commands.js';
import { ConfigError } from '../core/config/run-config.js';

test('readStatsSettings: valid settings pass through; bad JSON and bad fields name the file and each field', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'thresher-stats-settings-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const write = async (name: string, body: string) => {
    const file = path.join(dir, name);
    await writeFile(file, body);
    return file;
  };

  const good = await write('good.json', JSON.stringify({ partsPerGroup: 4, concurrency: 16, encodeBatchRows: 512, intervalExamples: 1, executionProvider: 'cuda', summariseThreads: 4, labels: false, featureBrowser: false }));
  assert.deepEqual(await readStatsSettings(good), { partsPerGroup: 4, concurrency: 16, encodeBatchRows: 512, intervalExamples: 1, executionProvider: 'cuda', summariseThreads: 4, labels: false, featureBrowser: false });
  assert.deepEqual(await readStatsSettings(await write('empty.json', '{}')), {});

  const broken = await write('broken.json', '{"fanIn": 4,');
  await assert.rejects(readStatsSettings(broken), (err: Error) => err instanceof ConfigError && err.message.startsWith(`stats settings ${broken} cannot be read as JSON`));
  await assert.rejects(readStatsSettings(path.join(dir, 'missing.json')), /missing\.json cannot be read as JSON/);

  const bad = await write('bad.json', JSON.stringify({ fanIn: 1, topK: 0, intervalExamples: 256, executionProvider: '', summariseThreads: 257, heartbeatTimeoutSeconds: 2, labels: 'no', featureBrowser: 'yes', runId: 'x' }));
  await assert.rejects(readStatsSettings(bad), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, new RegExp(`^stats settings ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is invalid:`));
    for (const field of ['fanIn', 'topK', 'intervalExamples', 'executionProvider', 'summariseThreads', 'heartbeatTimeoutSeconds', 'labels', 'featureBrowser', '(root)']) assert.ok(err.message.includes(`- ${field}:`), `${field} in ${err.message}`);
    assert.match(err.message, /runId/, 'a field the workflow sets itself is refused');
    return true;
  });
});
