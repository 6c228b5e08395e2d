import { Module } from '@nestjs/common';
import { TelemetryController } from '../telemetry/telemetry.controller';
import { DevicesController } from './devices.controller';
import { DevicesService } from './devices.service';

@Module({ providers: [DevicesService], controllers: [DevicesController, TelemetryController] })
export class DevicesModule {}
