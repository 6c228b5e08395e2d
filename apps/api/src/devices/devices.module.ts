import { Module } from '@nestjs/common';
import { TelemetryHistory } from '../telemetry/telemetry-history.service';
import { TelemetryRetention } from '../telemetry/telemetry-retention.service';
import { TelemetryController } from '../telemetry/telemetry.controller';
import { DevicesController } from './devices.controller';
import { DevicesService } from './devices.service';

@Module({ providers: [DevicesService, TelemetryHistory, TelemetryRetention], controllers: [DevicesController, TelemetryController] })
export class DevicesModule {}
