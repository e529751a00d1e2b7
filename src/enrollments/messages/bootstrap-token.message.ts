import { IsOptional } from 'class-validator';
import { AwaitingConfigurationMessage } from '../../checkin/messages/checkin-message.js';
import { IsPlistData } from '../../checkin/messages/validators.js';

export const MAX_BOOTSTRAP_TOKEN_BYTES = 16 * 1024;

/**
 * SetBootstrapToken: escrow, replace or (missing or empty) clear the bootstrap token.
 * https://developer.apple.com/documentation/devicemanagement/set-bootstrap-token
 * Spec: shared/spec/apple-device-management/checkin/setbootstraptoken.yaml
 */
export class SetBootstrapTokenMessage extends AwaitingConfigurationMessage {
  @IsOptional()
  @IsPlistData(MAX_BOOTSTRAP_TOKEN_BYTES)
  BootstrapToken?: Buffer;
}

/**
 * GetBootstrapToken: the device asks for its escrowed bootstrap token.
 * https://developer.apple.com/documentation/devicemanagement/get-bootstrap-token
 * Spec: shared/spec/apple-device-management/checkin/getbootstraptoken.yaml
 */
export class GetBootstrapTokenMessage extends AwaitingConfigurationMessage {}
