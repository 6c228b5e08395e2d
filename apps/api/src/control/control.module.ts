import { Global, Module } from '@nestjs/common';
import { CommandsController } from '../commands/commands.controller';
import { CommandsService } from '../commands/commands.service';
import { ControlGateway } from '../gateway/control.gateway';
import { StateController } from '../state/state.controller';
import { StateService } from '../state/state.service';

/** Device control: commands, desired/reported state, and the WebSocket they arrive on. */
@Global()
@Module({
  providers: [CommandsService, StateService, ControlGateway],
  controllers: [CommandsController, StateController],
  exports: [CommandsService, StateService, ControlGateway],
})
export class ControlModule {}
