import type { ClusterChannel } from '../domain/cluster';

/** SQLite's channel: one api process owns the database, so there is nobody to tell. */
export class LocalCluster implements ClusterChannel {
  readonly shared = false;

  listen(): Promise<void> {
    return Promise.resolve();
  }

  announce(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
