import { Global, Module } from '@nestjs/common';
import { CoreModule } from '../../core/core.module';
import { DeviceTransport } from '../../core/device-transport';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config';
import { DeviceAuthService } from '../../core/devices/device-auth.service';
import { DeviceCredentialsSink, NoCredentialsSink } from '../../core/devices/device-credentials-sink';
import { MetricsService } from '../../platform/metrics/metrics.service';
import { DYNSEC_RESPONSE_TOPIC, DynsecCredentials } from './dynsec';
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
          ? new ExternalBroker({
              url: config.mqttUrl,
              username: config.mqttUsername,
              password: config.mqttPassword,
              clientId: config.mqttClientId,
              shareGroup: config.mqttShareGroup,
              extraSubscriptions: config.mqttDynsec ? [DYNSEC_RESPONSE_TOPIC] : [],
            })
          : new EmbeddedBroker(auth, { port: config.mqttPort, host: config.host }),
    },
    {
      provide: DeviceCredentialsSink,
      inject: [APP_CONFIG, DeviceTransport, MetricsService],
      useFactory: (config: AppConfig, transport: DeviceTransport, metrics: MetricsService): DeviceCredentialsSink => {
        if (!config.mqttDynsec || !(transport instanceof ExternalBroker)) return new NoCredentialsSink();
        const dynsec = new DynsecCredentials(
          (topic, payload) => transport.publish(topic, payload, { qos: 1 }),
          config.mqttDynsecTimeoutMs,
          metrics,
        );
        transport.onExtraMessage((topic, payload) => {
          if (topic === DYNSEC_RESPONSE_TOPIC) dynsec.onAnswer(payload);
        });
        return dynsec;
      },
    },
  ],
  exports: [DeviceTransport, DeviceCredentialsSink],
})
export class MqttModule {}
