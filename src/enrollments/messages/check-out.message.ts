import { TopicMessage } from '../../checkin/messages/checkin-message.js';

/**
 * CheckOut: the MDM profile was removed (sent best-effort, only with CheckOutWhenRemoved).
 * https://developer.apple.com/documentation/devicemanagement/check-out
 * Spec: shared/spec/apple-device-management/checkin/checkout.yaml
 */
export class CheckOutMessage extends TopicMessage {}
