import { BadRequestException, Body, Controller, Get, Headers, Param, Patch } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { type DeviceStateView, type StateVersion, isJsonObject, jsonObjectSchema, toJsonSchema } from '@iot/protocol';
import { RequireRole } from '../auth/decorators';
import { DeviceIdPipe } from '../device-id.pipe';
import { ApiErrors, BODY_ERRORS, DeviceStateViewDto, StateVersionDto } from '../docs/api-responses';
import { StateService } from '../../../core/state/state.service';
import { Audited, bodyFields, param } from '../audit/audited';

/** `If-Match: 7` or `"7"` (or `W/"7"`); undefined when absent. */
function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '' || header.trim() === '*') return undefined;
  const match = /^(?:W\/)?"?(\d{1,15})"?$/.exec(header.trim());
  if (!match) throw new BadRequestException('If-Match must be a version number, like 7 or "7"');
  return Number(match[1]);
}

@ApiTags('state')
@Controller('devices/:id/state')
export class StateController {
  constructor(private readonly state: StateService) {}

  @Get()
  @ApiOperation({ summary: 'Reported and desired state, the delta between them, and the version' })
  @ApiOkResponse({ type: DeviceStateViewDto })
  @ApiErrors(400, 401, [404, 'No such device'])
  get(@Param('id', DeviceIdPipe) deviceId: string): Promise<DeviceStateView> {
    return this.state.get(deviceId);
  }

  @Audited({ action: 'state.desired', target: param('id'), detail: bodyFields })
  @Patch('desired')
  @RequireRole('operator')
  @ApiOperation({ summary: 'Merge-patch the desired state (If-Match: version, optional); 412 on a version mismatch' })
  @ApiConsumes('application/merge-patch+json', 'application/json')
  @ApiBody({
    description: 'An RFC 7396 merge patch (application/merge-patch+json or application/json)',
    schema: toJsonSchema(jsonObjectSchema, 'input'),
  })
  @ApiOkResponse({ type: StateVersionDto })
  @ApiErrors(...BODY_ERRORS, [404, 'No such device'], 412, [503, 'Other replicas kept changing the state; retry'])
  setDesired(
    @Param('id', DeviceIdPipe) deviceId: string,
    @Body() body: unknown,
    @Headers('if-match') ifMatch?: string,
  ): Promise<StateVersion> {
    // Checked as parsed, not through a schema that would copy it and leave a `__proto__` key out unseen.
    if (!isJsonObject(body)) throw new BadRequestException('the body must be a JSON object (a merge patch)');
    return this.state.setDesired(deviceId, body, parseIfMatch(ifMatch));
  }
}
