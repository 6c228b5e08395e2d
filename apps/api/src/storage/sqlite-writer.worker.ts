/**
 * The SQLite threads, one file for both roles (`WriterData.role`):
 *
 * - `writer` stores the ingest batches on its own connection, so inserts and
 *   commits take the machine's other core instead of the event loop that
 *   serves the sockets, and runs the retention job's deletes between them.
 *   Speaks WriterRequest / WriterReply.
 * - `checkpointer` copies the WAL back into the database on a timer, on a
 *   third connection, so neither the commits nor the event loop ever wait for
 *   a checkpoint's writes and fsyncs. When the WAL is long it asks for a
 *   restart, which the writer runs between two batches (`restart-wal`).
 * - `reader` answers the telemetry reads (SqliteReads) on a connection that
 *   may only read, one at a time, off the event loop. Speaks ReadRequest /
 *   ReadReply (SqliteReaderThread).
 *
 * Started by SqliteWriterThread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSqlite } from './sqlite-connection';
import { SqliteEventWriter } from './sqlite-event-writer';
import { SqliteHistory } from './sqlite-history';
import { SqliteReads } from './sqlite-reads';
import type { ReadReply, ReadRequest } from './sqlite-reader-thread';
import {
  CHECKPOINT_INTERVAL_MS,
  decodeBatch,
  type WriterData,
  type WriterReply,
  type WriterRequest,
} from './sqlite-thread-messages';

const port = parentPort;
if (!port) throw new Error('sqlite-writer runs as a worker thread');
const { path, role, restartWalPages, cacheKiB } = workerData as WriterData;
// A checkpoint copies WAL frames into the file without going through the page cache: the checkpointer needs little.
const sqlite = openSqlite(path, { autoCheckpoint: false, cacheKiB: role === 'checkpointer' ? 1024 : cacheKiB });

if (role === 'writer') {
  const writer = new SqliteEventWriter(sqlite);
  const history = new SqliteHistory(sqlite);
  // The generation in which an append failed: its later appends are refused.
  let failedGeneration = -1;
  port.on('message', (request: WriterRequest) => {
    if (request.kind === 'close') {
      sqlite.close();
      port.close();
      return;
    }
    try {
      if (request.kind === 'prune') {
        const { tier, before, budget, start } = request;
        port.postMessage({
          id: request.id,
          pruned: history.pruneTelemetry(tier, before, budget, start),
        } satisfies WriterReply);
        return;
      }
      if (request.kind === 'restart-wal') {
        // Waits for the readers of the WAL's end (busy timeout), then copies what the checkpointer has not.
        sqlite.pragma('wal_checkpoint(RESTART)');
        port.postMessage({ id: request.id } satisfies WriterReply);
        return;
      }
      if (request.generation <= failedGeneration) {
        port.postMessage({ id: request.id, error: 'not stored: a batch before it failed' } satisfies WriterReply);
        return;
      }
      try {
        const seqs = Float64Array.from(writer.append(decodeBatch(request.batch)));
        port.postMessage({ id: request.id, seqs, commitSeconds: writer.lastCommitSeconds } satisfies WriterReply, [
          seqs.buffer,
        ]);
      } catch (error) {
        failedGeneration = request.generation;
        throw error;
      }
    } catch (error) {
      port.postMessage({
        id: request.id,
        error: error instanceof Error ? error.message : String(error),
      } satisfies WriterReply);
    }
  });
} else if (role === 'reader') {
  sqlite.pragma('query_only = ON');
  const reads = new SqliteReads(sqlite);
  port.on('message', (request: ReadRequest | { kind: 'close' }) => {
    if (request.kind === 'close') {
      sqlite.close();
      port.close();
      return;
    }
    try {
      switch (request.kind) {
        case 'latest':
          port.postMessage({ id: request.id, latest: reads.latest(request.deviceIds) } satisfies ReadReply);
          return;
        case 'history':
          port.postMessage({ id: request.id, series: reads.rawHistory(request.query) } satisfies ReadReply);
          return;
        case 'aggregate':
          port.postMessage({ id: request.id, series: reads.aggregate(request.query) } satisfies ReadReply);
          return;
      }
    } catch (error) {
      port.postMessage({
        id: request.id,
        error: error instanceof Error ? error.message : String(error),
      } satisfies ReadReply);
    }
  });
} else {
  // PASSIVE copies what it can without blocking anyone. Under steady writes the
  // WAL never starts over by itself (a commit lands during every checkpoint),
  // so once it is long the writer is asked to RESTART it, which lets the next
  // commit start it over: once per length seen, so an idle WAL is not asked for again.
  let askedAt = 0;
  const timer = setInterval(() => {
    try {
      const [{ log }] = sqlite.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>;
      if (log >= restartWalPages && log !== askedAt) {
        askedAt = log;
        port.postMessage({ id: 0, walFull: true } satisfies WriterReply);
      }
    } catch (error) {
      // SQLITE_BUSY past the busy timeout: the next tick tries again.
      port.postMessage({ id: 0, error: error instanceof Error ? error.message : String(error) } satisfies WriterReply);
    }
  }, CHECKPOINT_INTERVAL_MS);
  port.on('message', (request: WriterRequest) => {
    if (request.kind !== 'close') return;
    clearInterval(timer);
    sqlite.pragma('wal_checkpoint(PASSIVE)');
    sqlite.close();
    port.close();
  });
}
port.postMessage({ id: 0, ready: true } satisfies WriterReply);
