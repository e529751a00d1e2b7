import { ValidateBy, buildMessage } from 'class-validator';
import type { ValidationOptions } from 'class-validator';

/** A plist `<data>` value, decoded to bytes, of at most `maxBytes`. */
export function IsPlistData(maxBytes: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isPlistData',
      constraints: [maxBytes],
      validator: {
        validate: (value: unknown) => Buffer.isBuffer(value) && value.length <= maxBytes,
        defaultMessage: buildMessage((each) => `${each}$property must be <data> of at most ${maxBytes} bytes`, options),
      },
    },
    options,
  );
}

// Identifiers become parts of enrollment ids joined with ':', so they may not contain it, nor
// control characters that would corrupt logs.
const IDENTIFIER_RE = /^[^:\p{Cc}]{1,128}$/u;
const USER_NAME_RE = /^[^\p{Cc}]{1,255}$/u;

/** A device or enrollment identifier (UDID, EnrollmentID, EnrollmentUserID, UserID). */
export function IsIdentifier(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIdentifier',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && IDENTIFIER_RE.test(value),
        defaultMessage: buildMessage(
          (each) => `${each}$property must be a string of 1 to 128 characters without ':' or control characters`,
          options,
        ),
      },
    },
    options,
  );
}

/** A user name as the device sends it (short name, Managed Apple Account, long name). */
export function IsUserName(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isUserName',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && USER_NAME_RE.test(value),
        defaultMessage: buildMessage(
          (each) => `${each}$property must be a string of 1 to 255 characters without control characters`,
          options,
        ),
      },
    },
    options,
  );
}
