import { ValidateBy, buildMessage } from 'class-validator';
import type { ValidationOptions } from 'class-validator';

/** A plist `<data>` value, decoded to bytes, of `minBytes` to `maxBytes`. */
export function IsPlistData(maxBytes: number, minBytes = 0, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isPlistData',
      constraints: [maxBytes, minBytes],
      validator: {
        validate: (value: unknown) => Buffer.isBuffer(value) && value.length >= minBytes && value.length <= maxBytes,
        defaultMessage: buildMessage(
          (each) =>
            `${each}$property must be <data> of ${minBytes > 0 ? `${minBytes} to ${maxBytes}` : `at most ${maxBytes}`} bytes`,
          options,
        ),
      },
    },
    options,
  );
}

/** A UTF-16 surrogate without its pair: no database can store it as text, and it is never a name. */
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Length in Unicode code points, as MySQL/MariaDB count a utf8mb4 VARCHAR's characters.
 * (class-validator's MaxLength counts differently: it does not count U+FE0F and U+FE0E, so
 * "x\uFE0F" repeated passes MaxLength(255) at twice the column's width.)
 */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** Well-formed text (no lone surrogate) of `min` to `max` characters, counted as the database counts them. */
export function isText(value: unknown, min: number, max: number): value is string {
  if (typeof value !== 'string' || value.length < min || LONE_SURROGATE_RE.test(value)) return false;
  // Each character is one or two UTF-16 units: only a string near the limit needs counting.
  return value.length <= max || codePoints(value) <= max;
}

/** A string the database stores as a VARCHAR(max): see {@link isText}. */
export function IsText(min: number, max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isText',
      constraints: [min, max],
      validator: {
        validate: (value: unknown) => isText(value, min, max),
        defaultMessage: buildMessage(
          (each) => `${each}$property must be a string of ${min} to ${max} characters (well-formed Unicode)`,
          options,
        ),
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
        validate: (value: unknown) =>
          typeof value === 'string' && IDENTIFIER_RE.test(value) && !LONE_SURROGATE_RE.test(value),
        defaultMessage: buildMessage(
          (each) =>
            `${each}$property must be a string of 1 to 128 characters without ':', control characters or lone surrogates`,
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
        validate: (value: unknown) =>
          typeof value === 'string' && USER_NAME_RE.test(value) && !LONE_SURROGATE_RE.test(value),
        defaultMessage: buildMessage(
          (each) =>
            `${each}$property must be a string of 1 to 255 characters without control characters or lone surrogates`,
          options,
        ),
      },
    },
    options,
  );
}
