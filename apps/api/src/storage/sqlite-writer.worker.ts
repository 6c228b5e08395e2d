/**
 * The SQLite writer thread: stores the ingest batches on its own connection,
 * so the commits (and the WAL checkpoints and fsyncs they trigger) take the
 * machine's other core instead of the event loop that serves the sockets.
 * Started by SqliteWriterThread; speaks WriterRequest / WriterReply.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSqlite } from './sqlite-connection';
import { SqliteEventWriter } from './sqlite-event-writer';
import type { WriterReply, WriterRequest, WriterData } from './sqlite-writer-thread';

const port = parentPort;
if (!port) throw new Error('sqlite-writer runs as a worker thread');

const sqlite = openSqlite((workerData as WriterData).path);
const writer = new SqliteEventWriter(sqlite);

port.on('message', (request: WriterRequest) => {
  if (request.kind === 'close') {
    sqlite.close();
    port.close();
    return;
  }
  let seqs: Float64Array<ArrayBuffer>;
  try {
    seqs = Float64Array.from(writer.append(request.events));
  } catch (error) {
    port.postMessage({
      id: request.id,
      error: error instanceof Error ? error.message : String(error),
    } satisfies WriterReply);
    return;
  }
  port.postMessage({ id: request.id, seqs } satisfies WriterReply, [seqs.buffer]);
});
port.postMessage({ id: 0, ready: true } satisfies WriterReply);
