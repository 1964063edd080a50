import { readFile } from 'node:fs/promises';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { ServiceSettings } from '../core/config/service-settings.js';

type TemporalSettings = ServiceSettings['temporal'] & { address: string };

async function tlsOptions(t: TemporalSettings) {
  if (!t.tls && !t.apiKey) return undefined;
  if (!t.tls) return true as const;
  const read = async (p?: string) => (p ? readFile(p) : undefined);
  const [crt, key, ca] = await Promise.all([read(t.tls.certPath), read(t.tls.keyPath), read(t.tls.caPath)]);
  return {
    serverNameOverride: t.tls.serverName,
    serverRootCACertificate: ca,
    clientCertPair: crt && key ? { crt, key } : undefined,
  };
}

/** Connection for workers (Rust core). */
export async function connectWorker(t: TemporalSettings): Promise<NativeConnection> {
  return NativeConnection.connect({ address: t.address, tls: await tlsOptions(t), apiKey: t.apiKey });
}

/** Client for starting, querying and signalling workflows. */
export async function connectClient(t: TemporalSettings): Promise<Client> {
  const connection = await Connection.connect({ address: t.address, tls: await tlsOptions(t), apiKey: t.apiKey });
  return new Client({ connection, namespace: t.namespace });
}
