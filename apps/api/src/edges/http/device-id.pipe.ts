import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';
import { isDeviceId } from '@iot/protocol';

/** Refuses a path device id that no device could have, before any lookup. */
@Injectable()
export class DeviceIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isDeviceId(value)) throw new BadRequestException(`${JSON.stringify(value)} is not a valid device id`);
    return value;
  }
}
