/**
 * Every way a check-in can fail, each with the HTTP status the device sees. A device treats
 * 4xx as its own mistake and 5xx as ours (it retries later). 401 is never used: some
 * devices unenroll when they get it.
 */
export enum CheckinErrorCode {
  BodyTooLarge = 'BODY_TOO_LARGE',
  MalformedPlist = 'MALFORMED_PLIST',
  NotADictionary = 'NOT_A_DICTIONARY',
  MissingMessageType = 'MISSING_MESSAGE_TYPE',
  UnknownMessageType = 'UNKNOWN_MESSAGE_TYPE',
  UnsupportedMessageType = 'UNSUPPORTED_MESSAGE_TYPE',
  InvalidMessage = 'INVALID_MESSAGE',
  InvalidIdentity = 'INVALID_IDENTITY',
  UserChannelNotSupported = 'USER_CHANNEL_NOT_SUPPORTED',
  TopicNotAllowed = 'TOPIC_NOT_ALLOWED',
  UnknownDevice = 'UNKNOWN_DEVICE',
  UnknownEnrollment = 'UNKNOWN_ENROLLMENT',
  EnrollmentDisabled = 'ENROLLMENT_DISABLED',
  NotAllowedForEnrollmentType = 'NOT_ALLOWED_FOR_ENROLLMENT_TYPE',
  Forbidden = 'FORBIDDEN',
  UnknownTokenService = 'UNKNOWN_TOKEN_SERVICE',
  InvalidTokenParameters = 'INVALID_TOKEN_PARAMETERS',
  IdentityInvalid = 'IDENTITY_INVALID',
  IdentityNotAllowed = 'IDENTITY_NOT_ALLOWED',
  DatabaseUnavailable = 'DATABASE_UNAVAILABLE',
  /** The client closed the connection before its body arrived: nobody is left to answer. */
  ClientAborted = 'CLIENT_ABORTED',
  /** A stored secret no configured key opens (SECRETS_KEY changed without SECRETS_PREVIOUS_KEYS). */
  SecretUnreadable = 'SECRET_UNREADABLE',
  Internal = 'INTERNAL',
}

const STATUS: Record<CheckinErrorCode, number> = {
  [CheckinErrorCode.BodyTooLarge]: 413,
  [CheckinErrorCode.MalformedPlist]: 400,
  [CheckinErrorCode.NotADictionary]: 400,
  [CheckinErrorCode.MissingMessageType]: 400,
  [CheckinErrorCode.UnknownMessageType]: 400,
  [CheckinErrorCode.UnsupportedMessageType]: 400,
  [CheckinErrorCode.InvalidMessage]: 400,
  [CheckinErrorCode.InvalidIdentity]: 400,
  [CheckinErrorCode.UserChannelNotSupported]: 400,
  [CheckinErrorCode.TopicNotAllowed]: 400,
  [CheckinErrorCode.UnknownDevice]: 400,
  [CheckinErrorCode.UnknownEnrollment]: 400,
  [CheckinErrorCode.EnrollmentDisabled]: 400,
  [CheckinErrorCode.NotAllowedForEnrollmentType]: 400,
  [CheckinErrorCode.Forbidden]: 403,
  [CheckinErrorCode.UnknownTokenService]: 400,
  [CheckinErrorCode.InvalidTokenParameters]: 400,
  [CheckinErrorCode.IdentityInvalid]: 400,
  [CheckinErrorCode.IdentityNotAllowed]: 403,
  [CheckinErrorCode.DatabaseUnavailable]: 503,
  // nginx's "client closed request": recorded in the log only, the client is gone.
  [CheckinErrorCode.ClientAborted]: 499,
  [CheckinErrorCode.SecretUnreadable]: 500,
  [CheckinErrorCode.Internal]: 500,
};

export class CheckinError extends Error {
  readonly status: number;

  /**
   * @param code what went wrong, for logs and metrics
   * @param message short text for the device and the log; never include secrets
   */
  /**
   * @param identityRefusal when the identity module refused the device: why, as its fixed code
   *   (the log's `identityRefusal`, the metrics' refusal reason)
   */
  constructor(
    readonly code: CheckinErrorCode,
    message: string,
    readonly identityRefusal?: string,
  ) {
    super(message);
    this.name = 'CheckinError';
    this.status = STATUS[code];
  }
}
