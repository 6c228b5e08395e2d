import { Global, Module } from '@nestjs/common';
import { StreamController } from './stream.controller';
import { StreamHub } from './stream-hub.service';

@Global()
@Module({ providers: [StreamHub], controllers: [StreamController], exports: [StreamHub] })
export class StreamModule {}
