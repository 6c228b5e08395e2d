import { brokerInfo } from './broker.controller';

describe('brokerInfo', () => {
  const none = { publicUrl: undefined, externalUrl: undefined, embeddedPort: undefined, requestHost: undefined };

  it('is MQTT_PUBLIC_URL as configured, whatever else is known', () => {
    expect(
      brokerInfo({
        publicUrl: 'mqtts://iot.example.com:8883',
        externalUrl: 'mqtt://broker:1883',
        embeddedPort: 1884,
        requestHost: 'console.example.com',
      }),
    ).toEqual({ url: 'mqtts://iot.example.com:8883', derived: false });
  });

  it("is the host the request came to and the embedded broker's port", () => {
    expect(brokerInfo({ ...none, embeddedPort: 1884, requestHost: '192.168.1.20' })).toEqual({
      url: 'mqtt://192.168.1.20:1884',
      derived: true,
    });
    expect(brokerInfo({ ...none, embeddedPort: 1883, requestHost: '[::1]' }).url).toBe('mqtt://[::1]:1883');
  });

  it("is the external broker's URL without the api's own credentials", () => {
    expect(brokerInfo({ ...none, externalUrl: 'mqtt://bridge:s3cret@broker.internal:1883' })).toEqual({
      url: 'mqtt://broker.internal:1883',
      derived: true,
    });
  });
});
