import { IsOptional, IsString, MaxLength } from 'class-validator';
import { TopicMessage } from '../../checkin/messages/checkin-message.js';

/**
 * Authenticate: the first message while the MDM profile installs.
 * https://developer.apple.com/documentation/devicemanagement/authenticate
 * Spec: shared/spec/apple-device-management/checkin/authenticate.yaml
 *
 * DeviceName, Model and ModelName are required on macOS only; the OS is not in the message,
 * so they are optional here.
 */
export class AuthenticateMessage extends TopicMessage {
  @IsOptional() @IsString() @MaxLength(255) DeviceName?: string;
  @IsOptional() @IsString() @MaxLength(128) Model?: string;
  @IsOptional() @IsString() @MaxLength(128) ModelName?: string;
  @IsOptional() @IsString() @MaxLength(32) OSVersion?: string;
  @IsOptional() @IsString() @MaxLength(32) BuildVersion?: string;
  @IsOptional() @IsString() @MaxLength(64) ProductName?: string;
  @IsOptional() @IsString() @MaxLength(64) SerialNumber?: string;
  @IsOptional() @IsString() @MaxLength(32) IMEI?: string;
  @IsOptional() @IsString() @MaxLength(32) MEID?: string;
}
