import { IsOptional } from 'class-validator';
import { TopicMessage } from '../../checkin/messages/checkin-message.js';
import { IsText } from '../../checkin/messages/validators.js';

/**
 * Authenticate: the first message while the MDM profile installs.
 * https://developer.apple.com/documentation/devicemanagement/authenticate
 * Spec: shared/spec/apple-device-management/checkin/authenticate.yaml
 *
 * DeviceName, Model and ModelName are required on macOS only; the OS is not in the message,
 * so they are optional here.
 */
export class AuthenticateMessage extends TopicMessage {
  @IsOptional() @IsText(0, 255) DeviceName?: string;
  @IsOptional() @IsText(0, 128) Model?: string;
  @IsOptional() @IsText(0, 128) ModelName?: string;
  @IsOptional() @IsText(0, 32) OSVersion?: string;
  @IsOptional() @IsText(0, 32) BuildVersion?: string;
  @IsOptional() @IsText(0, 64) ProductName?: string;
  @IsOptional() @IsText(0, 64) SerialNumber?: string;
  @IsOptional() @IsText(0, 32) IMEI?: string;
  @IsOptional() @IsText(0, 32) MEID?: string;
}
