import { IsObject, IsOptional, IsString, MaxLength } from 'class-validator';
import { CheckinMessage } from '../../checkin/messages/checkin-message.js';

/**
 * GetToken: the device asks for a service-specific token (iOS 17+, macOS 14+, visionOS 1.1+;
 * only when the profile's ServerCapabilities has com.apple.mdm.token).
 * https://developer.apple.com/documentation/devicemanagement/get-token
 * Spec: shared/spec/apple-device-management/checkin/gettoken.yaml
 */
export class GetTokenMessage extends CheckinMessage {
  @IsString()
  @MaxLength(255)
  TokenServiceType: string;

  /** Service-specific; com.apple.watch.pairing needs PhoneUDID, SecurityToken and WatchUDID. */
  @IsOptional()
  @IsObject()
  TokenParameters?: Record<string, unknown>;
}
