import { IsBoolean, IsOptional, IsString } from 'class-validator';
import { IsIdentifier, IsText, IsUserName } from './validators.js';

/**
 * The keys every check-in message may carry to say who sent it (see "Identifying the
 * enrollment" in the spec). Each message's DTO extends this and adds its own keys. Keys a
 * DTO does not declare are ignored: devices add keys in new OS releases.
 */
export abstract class CheckinMessage {
  @IsString()
  MessageType: string;

  @IsOptional()
  @IsIdentifier()
  UDID?: string;

  @IsOptional()
  @IsIdentifier()
  EnrollmentID?: string;

  @IsOptional()
  @IsIdentifier()
  EnrollmentUserID?: string;

  @IsOptional()
  @IsIdentifier()
  UserID?: string;

  @IsOptional()
  @IsUserName()
  UserShortName?: string;

  @IsOptional()
  @IsUserName()
  UserLongName?: string;
}

/** Messages that name their push topic (Authenticate, TokenUpdate, CheckOut). */
export abstract class TopicMessage extends CheckinMessage {
  @IsText(1, 255)
  Topic: string;
}

/** Messages sent during Setup Assistant, which may say the device waits for DeviceConfigured. */
export abstract class AwaitingConfigurationMessage extends CheckinMessage {
  @IsOptional()
  @IsBoolean()
  AwaitingConfiguration?: boolean;
}
