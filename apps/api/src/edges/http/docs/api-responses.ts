import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import {
  alarmListResponseSchema,
  alarmRuleListResponseSchema,
  alarmRuleViewSchema,
  alarmViewSchema,
  alarmWithHistorySchema,
  apiErrorSchema,
  auditListResponseSchema,
  bulkCommandViewSchema,
  brokerInfoSchema,
  brokerSyncResponseSchema,
  emqxAuthResultSchema,
  commandAcceptedSchema,
  commandListResponseSchema,
  commandViewSchema,
  commandWithHistorySchema,
  createDeviceResponseSchema,
  deviceCredentialsSchema,
  deviceListResponseSchema,
  deviceStateViewSchema,
  deviceViewSchema,
  deviceModelSchema,
  deviceModelViewSchema,
  jsonSchemaDocumentSchema,
  modelListResponseSchema,
  modelVersionsSchema,
  healthResponseSchema,
  latestValuesSchema,
  loginResponseSchema,
  readyResponseSchema,
  stateVersionSchema,
  telemetrySeriesResponseSchema,
  userViewSchema,
  deliveryListResponseSchema,
  webhookTestResultSchema,
  webhookViewSchema,
  webhookWithSecretSchema,
} from '@iot/protocol';

/*
 * Response bodies for the OpenAPI document, from the schemas of libs/protocol.
 * Documentation only: nothing here parses or changes an answer.
 */
export class ApiErrorDto extends createZodDto(apiErrorSchema) {}
export class AlarmRuleViewDto extends createZodDto(alarmRuleViewSchema) {}
export class AlarmRuleListResponseDto extends createZodDto(alarmRuleListResponseSchema) {}
export class AlarmViewDto extends createZodDto(alarmViewSchema) {}
export class AlarmWithHistoryDto extends createZodDto(alarmWithHistorySchema) {}
export class AlarmListResponseDto extends createZodDto(alarmListResponseSchema) {}
export class BulkCommandViewDto extends createZodDto(bulkCommandViewSchema) {}
export class AuditListResponseDto extends createZodDto(auditListResponseSchema) {}
export class UserViewDto extends createZodDto(userViewSchema) {}
export class LoginResponseDto extends createZodDto(loginResponseSchema) {}
export class DeviceViewDto extends createZodDto(deviceViewSchema) {}
export class DeviceListResponseDto extends createZodDto(deviceListResponseSchema) {}
export class DeviceCredentialsDto extends createZodDto(deviceCredentialsSchema) {}
export class CreateDeviceResponseDto extends createZodDto(createDeviceResponseSchema) {}
export class BrokerInfoDto extends createZodDto(brokerInfoSchema) {}
export class BrokerSyncResponseDto extends createZodDto(brokerSyncResponseSchema) {}
export class EmqxAuthResultDto extends createZodDto(emqxAuthResultSchema) {}
export class LatestValuesDto extends createZodDto(latestValuesSchema) {}
export class TelemetrySeriesResponseDto extends createZodDto(telemetrySeriesResponseSchema) {}
export class CommandAcceptedDto extends createZodDto(commandAcceptedSchema) {}
export class CommandViewDto extends createZodDto(commandViewSchema) {}
export class CommandWithHistoryDto extends createZodDto(commandWithHistorySchema) {}
export class CommandListResponseDto extends createZodDto(commandListResponseSchema) {}
export class DeviceStateViewDto extends createZodDto(deviceStateViewSchema) {}
export class StateVersionDto extends createZodDto(stateVersionSchema) {}
export class HealthResponseDto extends createZodDto(healthResponseSchema) {}
export class DeviceModelDto extends createZodDto(deviceModelSchema) {}
export class DeviceModelViewDto extends createZodDto(deviceModelViewSchema) {}
export class ModelListResponseDto extends createZodDto(modelListResponseSchema) {}
export class ModelVersionsDto extends createZodDto(modelVersionsSchema) {}
export class JsonSchemaDocumentDto extends createZodDto(jsonSchemaDocumentSchema) {}
export class ReadyResponseDto extends createZodDto(readyResponseSchema) {}
export class WebhookViewDto extends createZodDto(webhookViewSchema) {}
export class WebhookWithSecretDto extends createZodDto(webhookWithSecretSchema) {}
export class DeliveryListResponseDto extends createZodDto(deliveryListResponseSchema) {}
export class WebhookTestResultDto extends createZodDto(webhookTestResultSchema) {}

/** What each error status means across the API (docs/protocol.md §3). */
const ERRORS: Record<number, string> = {
  400: 'Invalid body, query or path id; the message names the field',
  401: 'No token or cookie, an expired token or an ended session',
  403: 'The role is too low, or a cookie-authenticated change from an origin not allowed',
  404: 'No such resource',
  409: 'It exists already, or is past the state this needs',
  412: 'If-Match names another version',
  413: 'The body is over 1 MiB, or the document would be over its limit',
  415: 'The body is not JSON',
  429: 'Too many attempts or open streams; Retry-After says when to try again where given',
  503: 'Not ready, or a read took too long',
};

/** Error answers with the one error body; `[status, description]` words one for this route. */
export function ApiErrors(...errors: Array<number | [number, string]>): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...errors.map((error) => {
      const [status, description] = typeof error === 'number' ? [error, ERRORS[error]] : error;
      return ApiResponse({ status, description, type: ApiErrorDto });
    }),
  );
}

/** The errors of every route that takes a JSON body and changes something. */
export const BODY_ERRORS = [400, 401, 403, 413, 415] as const;
