import { Logger } from '@nestjs/common';
import type { AuditEntry, AuditRepository } from '../../domain/audit';
import { AUDIT_DETAIL_MAX } from '../../domain/audit';
import { strictFake } from '../../domain/testing';
import type { AppConfig } from '../../platform/config/config';
import { AuditService, MAX_QUEUED_AUDIT } from './audit.service';

const entry = {
  actor: 'alice',
  action: 'device.create',
  target: 'd1',
  outcome: 'ok',
  address: null,
  detail: null,
} as const;

describe('AuditService', () => {
  let written: AuditEntry[][];
  let release: Array<() => void>;
  let sut: AuditService;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    written = [];
    release = [];
    const repository = strictFake<AuditRepository>(
      {
        // Each write waits until the test lets it finish, as a slow database would.
        append: (entries) =>
          new Promise<void>((resolve) =>
            release.push(() => {
              written.push(entries);
              resolve();
            }),
          ),
        list: async () => written.flat().map((e, i) => ({ ...e, id: i + 1 })),
      },
      'audit',
    );
    sut = new AuditService(repository, { auditRetentionDays: 365 } as AppConfig);
  });

  afterEach(() => jest.restoreAllMocks());

  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('writes the entries of one turn together, and cuts a long detail', async () => {
    sut.record({ ...entry, ts: 1 });
    sut.record({ ...entry, ts: 2, detail: 'x'.repeat(AUDIT_DETAIL_MAX + 10) });
    await turn();
    release.shift()?.();
    await sut.flush();
    expect(written).toHaveLength(1);
    expect(written[0].map((e) => e.ts)).toEqual([1, 2]);
    expect(written[0][1].detail).toHaveLength(AUDIT_DETAIL_MAX);
  });

  it(`holds at most ${MAX_QUEUED_AUDIT} entries while the database is slow, dropping the rest`, async () => {
    for (let i = 0; i < MAX_QUEUED_AUDIT; i++) sut.record({ ...entry, ts: i });
    await turn();
    // The first batch is being written (and waits); more entries now are dropped.
    sut.record({ ...entry, ts: -1 });
    await turn();
    while (release.length > 0) {
      release.shift()?.();
      await turn();
    }
    await sut.flush();
    expect(written.flat()).toHaveLength(MAX_QUEUED_AUDIT);
    expect(written.flat().some((e) => e.ts === -1)).toBe(false);
  });
});
