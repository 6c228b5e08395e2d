import { Global, Module } from '@nestjs/common';
import { CoreModule } from '../../core/core.module';
import { DeviceTransport } from '../../core/device-transport';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config';
import { DeviceAuthService } from '../../core/devices/device-auth.service';
import { EmbeddedBroker } from './embedded-broker';
import { ExternalBroker } from './external-broker';
import { IngestService } from './ingest.service';

/**
 * The MQTT edge: the embedded broker (or the client of an external one),
 * device authentication, and ingest, where every device message is parsed.
 * Global because the core sends commands and desired state through the
 * DeviceTransport it provides.
 */
@Global()
@Module({
  imports: [CoreModule],
  providers: [
    IngestService,
    {
      provide: DeviceTransport,
      inject: [APP_CONFIG, DeviceAuthService],
      useFactory: (config: AppConfig, auth: DeviceAuthService): DeviceTransport =>
        config.mqttUrl
          ? new ExternalBroker({ url: config.mqttUrl, username: config.mqttUsername, password: config.mqttPassword })
          : new EmbeddedBroker(auth, { port: config.mqttPort, host: config.host }),
    },
  ],
  exports: [DeviceTransport],
})
export class MqttModule {}
