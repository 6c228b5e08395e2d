import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { createZodDto } from 'nestjs-zod';
import { type AuditListResponse, listAuditQuerySchema } from '@iot/protocol';
import { RequireRole } from '../auth/decorators';
import { ApiErrors, AuditListResponseDto } from '../docs/api-responses';
import { AuditService } from '../../../core/audit/audit.service';
import type { AuditRecord } from '../../../domain/audit';

class ListAuditQueryDto extends createZodDto(listAuditQuerySchema) {}

const CSV_COLUMNS = ['id', 'ts', 'time', 'actor', 'action', 'target', 'outcome', 'address', 'detail'] as const;

/** One CSV field (RFC 4180); a leading =, +, - or @ is quoted with a ' so that a spreadsheet shows it as text. */
function csvField(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvOf(records: AuditRecord[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of records) {
    const row = { ...r, time: new Date(r.ts).toISOString() };
    lines.push(CSV_COLUMNS.map((column) => csvField(row[column])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

@ApiTags('audit')
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @RequireRole('admin')
  @ApiOperation({
    summary: 'Who did what: logins, device, command, state, model and user changes; newest first; ?format=csv',
  })
  @ApiOkResponse({ type: AuditListResponseDto })
  @ApiProduces('application/json', 'text/csv')
  @ApiErrors(400, 401, 403)
  async list(
    @Query() query: ListAuditQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<AuditListResponse | string> {
    const records = await this.audit.list({
      actor: query.actor,
      action: query.action,
      target: query.target,
      from: query.from,
      to: query.to,
      beforeId: query.cursor === undefined ? undefined : Number(query.cursor),
      limit: query.limit + 1,
    });
    const more = records.length > query.limit;
    if (more) records.pop();
    const nextCursor = more ? String(records[records.length - 1].id) : null;
    if (query.format === 'csv') {
      res.setHeader('content-type', 'text/csv; charset=utf-8');
      res.setHeader('content-disposition', 'attachment; filename="audit.csv"');
      if (nextCursor !== null) res.setHeader('x-next-cursor', nextCursor);
      return csvOf(records);
    }
    return { items: records, nextCursor };
  }
}
