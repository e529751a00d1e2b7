import { Inject, Injectable } from '@nestjs/common';
import { CheckinHandler } from '../../checkin/checkin-handler.decorator.js';
import { OK } from '../../checkin/checkin.types.js';
import type { CheckinContext, CheckinMessageHandler, CheckinResult } from '../../checkin/checkin.types.js';
import { EnrollmentsService } from '../enrollments.service.js';
import { GetBootstrapTokenMessage, SetBootstrapTokenMessage } from '../messages/bootstrap-token.message.js';

/** SetBootstrapToken: escrow the token sealed at rest; a missing or empty one clears it. */
@CheckinHandler({ messageType: 'SetBootstrapToken', dto: SetBootstrapTokenMessage })
@Injectable()
export class SetBootstrapTokenHandler implements CheckinMessageHandler<SetBootstrapTokenMessage> {
  constructor(@Inject(EnrollmentsService) private readonly enrollments: EnrollmentsService) {}

  async handle(msg: SetBootstrapTokenMessage, ctx: CheckinContext): Promise<CheckinResult> {
    const awaiting = msg.AwaitingConfiguration === true;
    const { cleared } = await this.enrollments.setBootstrapToken(
      ctx.enrollment,
      msg.BootstrapToken,
      awaiting,
      ctx.receivedAt,
    );
    ctx.logFields.bootstrapTokenCleared = cleared;
    ctx.logFields.awaitingConfiguration = awaiting;
    return OK;
  }
}

/** GetBootstrapToken: `{ BootstrapToken: <data> }`, or an empty dictionary when none is escrowed. */
@CheckinHandler({ messageType: 'GetBootstrapToken', dto: GetBootstrapTokenMessage })
@Injectable()
export class GetBootstrapTokenHandler implements CheckinMessageHandler<GetBootstrapTokenMessage> {
  constructor(@Inject(EnrollmentsService) private readonly enrollments: EnrollmentsService) {}

  async handle(msg: GetBootstrapTokenMessage, ctx: CheckinContext): Promise<CheckinResult> {
    const awaiting = msg.AwaitingConfiguration === true;
    const token = await this.enrollments.getBootstrapToken(ctx.enrollment, awaiting, ctx.receivedAt);
    ctx.logFields.bootstrapTokenFound = token !== null;
    ctx.logFields.awaitingConfiguration = awaiting;
    return { status: 200, plist: token === null ? {} : { BootstrapToken: token } };
  }
}
