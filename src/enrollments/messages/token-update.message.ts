import { IsBoolean, IsOptional } from 'class-validator';
import { TopicMessage } from '../../checkin/messages/checkin-message.js';
import { IsPlistData, IsText } from '../../checkin/messages/validators.js';

/** APNs tokens are 32 bytes today; Apple says their size may change. */
export const MAX_PUSH_TOKEN_BYTES = 1024;
export const MAX_UNLOCK_TOKEN_BYTES = 16 * 1024;

/**
 * TokenUpdate: the push token, PushMagic and (optionally) the UnlockToken.
 * https://developer.apple.com/documentation/devicemanagement/token-update
 * Spec: shared/spec/apple-device-management/checkin/tokenupdate.yaml
 */
export class TokenUpdateMessage extends TopicMessage {
  /** Required and never empty: an empty token could not address a push. */
  @IsPlistData(MAX_PUSH_TOKEN_BYTES, 1)
  Token: Buffer;

  @IsText(1, 255)
  PushMagic: string;

  /** Absent means "unchanged", never "cleared". */
  @IsOptional()
  @IsPlistData(MAX_UNLOCK_TOKEN_BYTES)
  UnlockToken?: Buffer;

  @IsOptional()
  @IsBoolean()
  AwaitingConfiguration?: boolean;

  @IsOptional()
  @IsBoolean()
  NotOnConsole?: boolean;
}
