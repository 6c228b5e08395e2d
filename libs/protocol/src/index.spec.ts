import * as protocol from './index';

/**
 * The public API: other projects import these names. Renaming or dropping one
 * breaks them, so this list changes only on purpose.
 */
describe('public API of @iot/protocol', () => {
  it.each([
    // limits
    ['DEVICE_ID_PATTERN', 'object'],
    ['TELEMETRY_KEY_PATTERN', 'object'],
    ['COMMAND_NAME_PATTERN', 'object'],
    ['LIMITS', 'object'],
    ['COMMAND_STATUS_RANK', 'object'],
    ['isJsonObject', 'function'],
    ['jsonEqual', 'function'],
    ['stateDelta', 'function'],
    ['utf8Length', 'function'],
    ['isDeviceId', 'function'],
    // time
    ['parseTime', 'function'],
    ['timeSchema', 'object'],
    // topics
    ['TOPIC_ROOT', 'string'],
    ['topics', 'object'],
    ['PLATFORM_SUBSCRIPTIONS', 'object'],
    ['parseTopic', 'function'],
    ['DEVICE_PUBLISH_KINDS', 'object'],
    ['deviceSubscriptionAllowed', 'function'],
    ['devicePublishAllowed', 'function'],
    ['COMMAND_ID_PATTERN', 'object'],
    // telemetry
    ['telemetryValueSchema', 'object'],
    ['telemetryValuesSchema', 'object'],
    ['timedTelemetrySchema', 'object'],
    ['parseTelemetry', 'function'],
    // messages
    ['deviceStatusSchema', 'object'],
    ['jsonObjectSchema', 'object'],
    ['reportedStatePatchSchema', 'object'],
    ['desiredStateDocumentSchema', 'object'],
    ['commandNameSchema', 'object'],
    ['commandParamsSchema', 'object'],
    ['commandMessageSchema', 'object'],
    ['commandResultStatusSchema', 'object'],
    ['commandResultSchema', 'object'],
    ['commandStatusSchema', 'object'],
    ['TERMINAL_COMMAND_STATUSES', 'object'],
    ['errorNoticeSchema', 'object'],
    // stream
    ['telemetryEventSchema', 'object'],
    ['statusEventSchema', 'object'],
    ['stateEventSchema', 'object'],
    ['commandEventSchema', 'object'],
    ['resetEventSchema', 'object'],
    ['streamEventSchemas', 'object'],
    ['DEVICE_EVENT_NAMES', 'object'],
    ['isDeviceEventName', 'function'],
    ['STREAM_PATH', 'string'],
    ['STREAM_HEARTBEAT_MS', 'number'],
    // socket
    ['commandSendSchema', 'object'],
    ['commandCancelSchema', 'object'],
    ['stateDesiredSetSchema', 'object'],
    ['clientFrameSchemas', 'object'],
    ['isClientFrameName', 'function'],
    ['errorCodeSchema', 'object'],
    ['errorCodeForStatus', 'function'],
    ['serverFrameSchemas', 'object'],
    ['isServerFrameName', 'function'],
    ['frameEnvelopeSchema', 'object'],
    ['WS_CLOSE', 'object'],
    ['SOCKET_PATH', 'string'],
    // api
    ['API_BASE_PATH', 'string'],
    ['roleSchema', 'object'],
    ['roleAtLeast', 'function'],
    ['usernameSchema', 'object'],
    ['loginRequestSchema', 'object'],
    ['createUserSchema', 'object'],
    ['updateUserSchema', 'object'],
    ['deviceIdSchema', 'object'],
    ['createDeviceSchema', 'object'],
    ['updateDeviceSchema', 'object'],
    ['listDevicesQuerySchema', 'object'],
    ['sendCommandSchema', 'object'],
    ['listCommandsQuerySchema', 'object'],
    ['telemetryQuerySchema', 'object'],
    // responses
    ['apiErrorSchema', 'object'],
    ['userViewSchema', 'object'],
    ['loginResponseSchema', 'object'],
    ['deviceViewSchema', 'object'],
    ['latestValuesSchema', 'object'],
    ['deviceListResponseSchema', 'object'],
    ['deviceCredentialsSchema', 'object'],
    ['createDeviceResponseSchema', 'object'],
    ['brokerInfoSchema', 'object'],
    ['telemetrySeriesResponseSchema', 'object'],
    ['commandAcceptedSchema', 'object'],
    ['commandViewSchema', 'object'],
    ['commandTransitionSchema', 'object'],
    ['commandWithHistorySchema', 'object'],
    ['commandListResponseSchema', 'object'],
    ['deviceStateViewSchema', 'object'],
    ['stateVersionSchema', 'object'],
    ['healthResponseSchema', 'object'],
    ['readyResponseSchema', 'object'],
    // asyncapi
    ['ASYNCAPI_DOCUMENT_PATH', 'string'],
    ['asyncApiDocument', 'function'],
    ['toJsonSchema', 'function'],
  ])('exports %s (%s)', (name, type) => {
    expect(typeof (protocol as Record<string, unknown>)[name]).toBe(type);
  });

  it('exports the same device id rule everywhere', () => {
    expect(protocol.deviceIdSchema.safeParse('a/b').success).toBe(protocol.isDeviceId('a/b'));
    expect(protocol.deviceIdSchema.safeParse('d-1').success).toBe(protocol.isDeviceId('d-1'));
  });
});
