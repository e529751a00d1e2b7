import { IsOptional, IsString, MaxLength } from 'class-validator';
import { CheckinMessage } from '../checkin/messages/checkin-message.js';

/**
 * UserAuthenticate: the two-step handshake of a macOS mobile or network user at login
 * (user channel only, not in User Enrollment).
 * https://developer.apple.com/documentation/devicemanagement/user-authenticate
 * Spec: shared/spec/apple-device-management/checkin/userauthenticate.yaml
 */
export class UserAuthenticateMessage extends CheckinMessage {
  /** Only in the second request: the digest of short name, password and our challenge. */
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  DigestResponse?: string;
}
