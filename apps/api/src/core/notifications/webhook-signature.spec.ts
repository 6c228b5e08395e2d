import { webhookSignature } from './webhook-signature';

describe('webhookSignature', () => {
  it('signs "<t>.<body>" with HMAC-SHA256 under the secret (a known vector)', () => {
    const sut = webhookSignature('whsec_test', '{"type":"alarm","seq":1}', 1_700_000_000);
    // printf '%s' '1700000000.{"type":"alarm","seq":1}' | openssl dgst -sha256 -hmac whsec_test
    expect(sut).toBe('t=1700000000,v1=01e54fd5e2f1280f437a05cdabcf1e6631f182cd5ad73da1001a869b1da58595');
  });

  it('changes with the body, the time and the secret', () => {
    const base = webhookSignature('s', 'body', 1);
    expect(webhookSignature('s', 'body ', 1)).not.toBe(base);
    expect(webhookSignature('s', 'body', 2).split(',v1=')[1]).not.toBe(base.split(',v1=')[1]);
    expect(webhookSignature('t', 'body', 1)).not.toBe(base);
  });
});
