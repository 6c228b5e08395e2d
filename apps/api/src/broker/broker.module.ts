import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { ExternalBroker } from '../mqtt/external-broker';
import { BrokerController } from './broker.controller';
import { DeviceAuthService } from './device-auth.service';
import { EmbeddedBroker } from './embedded-broker';
import { DeviceTransport } from './transport';

@Global()
@Module({
  providers: [
    DeviceAuthService,
    {
      provide: DeviceTransport,
      inject: [APP_CONFIG, DeviceAuthService],
      useFactory: (config: AppConfig, auth: DeviceAuthService): DeviceTransport =>
        config.mqttUrl
          ? new ExternalBroker({ url: config.mqttUrl, username: config.mqttUsername, password: config.mqttPassword })
          : new EmbeddedBroker(auth, { port: config.mqttPort, host: config.host }),
    },
  ],
  controllers: [BrokerController],
  exports: [DeviceAuthService, DeviceTransport],
})
export class BrokerModule {}
