import { Injectable } from '@nestjs/common';
import { DatabaseHealth } from '../domain/database';

/** What readiness asks of the core: whether the database answers. */
@Injectable()
export class HealthService {
  constructor(private readonly database: DatabaseHealth) {}

  /** Resolves once the database has answered a trivial query; rejects with why it did not. */
  pingDatabase(): Promise<void> {
    return this.database.ping();
  }
}
