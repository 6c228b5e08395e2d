import { Module } from '@nestjs/common';
import { CoreModule } from '../../core/core.module';
import { ControlGateway } from './control.gateway';

/** The WebSocket edge: commands and desired state from browsers. */
@Module({ imports: [CoreModule], providers: [ControlGateway], exports: [ControlGateway] })
export class WsModule {}
