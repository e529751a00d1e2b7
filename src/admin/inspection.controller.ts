import { Controller, Get, Inject, NotFoundException, Param, UseGuards } from '@nestjs/common';
import { EnrollmentsQueries } from '../enrollments/enrollments.queries.js';
import type { DeviceView, EnrollmentView } from '../enrollments/enrollments.queries.js';
import { ApiKeyGuard } from './api-key.guard.js';

/** Read-only views of devices and enrollments. Secret values are never returned. */
@Controller('api/v1')
@UseGuards(ApiKeyGuard)
export class InspectionController {
  constructor(@Inject(EnrollmentsQueries) private readonly queries: EnrollmentsQueries) {}

  @Get('devices/:udid')
  async device(@Param('udid') udid: string): Promise<DeviceView> {
    const device = await this.queries.device(udid);
    if (device === undefined) throw new NotFoundException(`no device ${udid}`);
    return device;
  }

  /** The id is URL-encoded: user-channel ids contain ':' and may contain '@'. */
  @Get('enrollments/:id')
  async enrollment(@Param('id') id: string): Promise<EnrollmentView> {
    const enrollment = await this.queries.enrollment(id);
    if (enrollment === undefined) throw new NotFoundException(`no enrollment ${id}`);
    return enrollment;
  }
}
