// Simulated Apple devices and the check-in messages they send, shaped like the real ones in
// test/fixtures/: iPhones send binary plists, iPads and Macs XML; only iOS and iPadOS send an
// UnlockToken; only Macs escrow a bootstrap token; Macs send DeviceName, Model and ModelName.
// Used by the simulator (npm run simulate) and the benchmark (bench/bench.mjs).
import { randomBytes, randomUUID } from 'node:crypto';
import { build, buildBinary } from 'plist';
import type { PlistValue } from 'plist';

export type DeviceKind = 'iPhone' | 'iPad' | 'Mac';

/** The push topic of the fixtures; any `com.apple.mgmt.` topic is accepted unless PUSH_TOPICS says otherwise. */
export const DEFAULT_TOPIC = 'com.apple.mgmt.External.0c3b5d2e-3f6a-4b8e-9d41-2a7c8e5f1b90';

/** Shared iPad sends this UserID for every user. */
export const SHARED_IPAD_USER_ID = 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF';

export interface SimDevice {
  readonly kind: DeviceKind;
  readonly index: number;
  readonly udid: string;
  readonly serialNumber: string;
  readonly productName: string;
  readonly model?: string;
  readonly modelName?: string;
  readonly deviceName?: string;
  readonly osVersion: string;
  readonly buildVersion: string;
  readonly imei?: string;
  readonly meid?: string;
  readonly topic: string;
  /** iPhones send binary plists, iPads and Macs XML (as in the fixtures). */
  readonly binary: boolean;
  /** APNs token and PushMagic: they change on token rotation. */
  token: Buffer;
  pushMagic: string;
  readonly unlockToken: Buffer | undefined;
  readonly bootstrapToken: Buffer | undefined;
}

interface Shape {
  kind: DeviceKind;
  productName: string;
  model?: string;
  modelName?: string;
  osVersion: string;
  buildVersion: string;
  udidPrefix?: string;
  cellular?: boolean;
}

const SHAPES: readonly Shape[] = [
  { kind: 'iPhone', productName: 'iPhone14,5', osVersion: '18.5', buildVersion: '22F76', udidPrefix: '00008110' },
  { kind: 'iPhone', productName: 'iPhone15,2', osVersion: '18.5', buildVersion: '22F76', udidPrefix: '00008120' },
  {
    kind: 'iPad',
    productName: 'iPad13,18',
    osVersion: '18.5',
    buildVersion: '22F76',
    udidPrefix: '00008103',
    cellular: true,
  },
  {
    kind: 'Mac',
    productName: 'Mac14,9',
    model: 'Mac14,9',
    modelName: 'MacBook Pro',
    osVersion: '15.5',
    buildVersion: '24F74',
  },
  { kind: 'iPhone', productName: 'iPhone16,1', osVersion: '18.5', buildVersion: '22F76', udidPrefix: '00008130' },
  { kind: 'iPad', productName: 'iPad14,1', osVersion: '18.5', buildVersion: '22F76', udidPrefix: '00008112' },
  { kind: 'iPhone', productName: 'iPhone14,7', osVersion: '17.7', buildVersion: '21H16', udidPrefix: '00008110' },
  {
    kind: 'Mac',
    productName: 'Mac15,12',
    model: 'Mac15,12',
    modelName: 'MacBook Air',
    osVersion: '15.5',
    buildVersion: '24F74',
  },
];

const SERIAL_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789';

function serialNumber(length: number): string {
  const bytes = randomBytes(length);
  let s = '';
  for (const b of bytes) s += SERIAL_ALPHABET[b % SERIAL_ALPHABET.length];
  return s;
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex').toUpperCase();
}

/**
 * The `index`-th simulated device: the shapes rotate so a population is about half iPhones,
 * a quarter iPads and a quarter Macs. `runTag` (8 hex digits) keeps UDIDs of different runs apart.
 */
export function makeDevice(index: number, runTag: string, topic: string = DEFAULT_TOPIC): SimDevice {
  const shape = SHAPES[index % SHAPES.length] as Shape;
  const isMac = shape.kind === 'Mac';
  // Apple silicon and iOS: 8 hex digits, a dash, 16 hex digits. Macs here use the UUID form of
  // Intel Macs and virtual machines (as in the fixture), so both shapes are exercised.
  const udid = isMac
    ? randomUUID().toUpperCase()
    : `${shape.udidPrefix ?? '00008110'}-${runTag.toUpperCase().padStart(8, '0').slice(0, 8)}${index
        .toString(16)
        .toUpperCase()
        .padStart(8, '0')}`;
  const imei = shape.cellular ? `35 ${String(index % 1e6).padStart(6, '0')} ${hex(3).slice(0, 6)} 1` : undefined;
  return {
    kind: shape.kind,
    index,
    udid,
    serialNumber: serialNumber(isMac ? 12 : 10),
    productName: shape.productName,
    ...(shape.model !== undefined ? { model: shape.model } : {}),
    ...(shape.modelName !== undefined ? { modelName: shape.modelName } : {}),
    ...(isMac ? { deviceName: `Simulated ${shape.modelName ?? 'Mac'} ${index}` } : {}),
    osVersion: shape.osVersion,
    buildVersion: shape.buildVersion,
    ...(imei !== undefined ? { imei, meid: imei.replace(/\s/g, '').slice(0, 14) } : {}),
    topic,
    binary: shape.kind === 'iPhone',
    token: randomBytes(32),
    pushMagic: randomUUID().toUpperCase(),
    // An UnlockToken is a keybag blob of a few hundred bytes; only iOS and iPadOS send one.
    unlockToken: isMac
      ? undefined
      : Buffer.concat([Buffer.from('DATA\0\0\0\x04\0\0\0\x01TYPE', 'latin1'), randomBytes(200)]),
    bootstrapToken: isMac ? Buffer.from(`BOOTSTRAP-TOKEN-${randomUUID()}`, 'utf8') : undefined,
  };
}

export type Message = Record<string, PlistValue>;

/** The body bytes of a message as this device encodes it. */
export function encode(device: SimDevice, message: Message): Buffer {
  return device.binary ? Buffer.from(buildBinary(message)) : Buffer.from(build(message), 'utf8');
}

/** Authenticate, with the facts this kind of device reports. */
export function authenticate(d: SimDevice): Message {
  const m: Message = {
    MessageType: 'Authenticate',
    Topic: d.topic,
    UDID: d.udid,
    SerialNumber: d.serialNumber,
    OSVersion: d.osVersion,
    BuildVersion: d.buildVersion,
    ProductName: d.productName,
  };
  if (d.model !== undefined) m.Model = d.model;
  if (d.modelName !== undefined) m.ModelName = d.modelName;
  if (d.deviceName !== undefined) m.DeviceName = d.deviceName;
  if (d.imei !== undefined) m.IMEI = d.imei;
  if (d.meid !== undefined) m.MEID = d.meid;
  return m;
}

export interface TokenUpdateOptions {
  /** The device waits in Setup Assistant for DeviceConfigured. */
  awaitingConfiguration: boolean;
  /** Send the device's UnlockToken (the first TokenUpdate of iOS and iPadOS). */
  withUnlockToken: boolean;
}

/** TokenUpdate on the device channel with the device's current token and PushMagic. */
export function tokenUpdate(d: SimDevice, options: TokenUpdateOptions): Message {
  const m: Message = {
    MessageType: 'TokenUpdate',
    Topic: d.topic,
    UDID: d.udid,
    Token: d.token,
    PushMagic: d.pushMagic,
    AwaitingConfiguration: options.awaitingConfiguration,
  };
  if (options.withUnlockToken && d.unlockToken !== undefined) m.UnlockToken = d.unlockToken;
  return m;
}

/** A new APNs token and PushMagic, as after a restore, an APNs environment change or a re-registration. */
export function rotatePushCredentials(d: SimDevice): void {
  d.token = randomBytes(32);
  d.pushMagic = randomUUID().toUpperCase();
}

export function setBootstrapToken(d: SimDevice): Message {
  const m: Message = { MessageType: 'SetBootstrapToken', UDID: d.udid, AwaitingConfiguration: false };
  if (d.bootstrapToken !== undefined) m.BootstrapToken = d.bootstrapToken;
  return m;
}

export function getBootstrapToken(d: SimDevice): Message {
  return { MessageType: 'GetBootstrapToken', UDID: d.udid, AwaitingConfiguration: false };
}

export function getToken(d: SimDevice, serviceType: string): Message {
  return { MessageType: 'GetToken', UDID: d.udid, TokenServiceType: serviceType };
}

export function checkOut(d: SimDevice): Message {
  return { MessageType: 'CheckOut', Topic: d.topic, UDID: d.udid };
}

/** The short name of the `n`-th (1-based) Shared iPad user. */
export function sharedIpadUserName(n: number): string {
  return `user${n}@example.org`;
}

/**
 * A Shared iPad user signing in: TokenUpdate on the user channel, keyed by the device's UDID and
 * the user's short name (the Managed Apple Account), with the all-F UserID Shared iPad always sends.
 */
export function sharedIpadUserTokenUpdate(d: SimDevice, n: number): Message {
  return {
    MessageType: 'TokenUpdate',
    Topic: d.topic,
    UDID: d.udid,
    UserID: SHARED_IPAD_USER_ID,
    UserShortName: sharedIpadUserName(n),
    Token: randomBytes(32),
    PushMagic: randomUUID().toUpperCase(),
    AwaitingConfiguration: false,
  };
}
