import { Global, Module } from '@nestjs/common';
import { EventLog } from './event-log.service';
import { IngestService } from './ingest.service';
import { PresenceService } from './presence.service';

@Global()
@Module({ providers: [EventLog, PresenceService, IngestService], exports: [EventLog, PresenceService] })
export class IngestModule {}
