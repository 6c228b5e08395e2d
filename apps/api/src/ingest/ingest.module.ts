import { Global, Module } from '@nestjs/common';
import { EventLog } from './event-log.service';
import { EventRetention } from './event-retention.service';
import { IngestService } from './ingest.service';
import { PresenceService } from './presence.service';

@Global()
@Module({ providers: [EventLog, EventRetention, PresenceService, IngestService], exports: [EventLog, EventRetention, PresenceService] })
export class IngestModule {}
