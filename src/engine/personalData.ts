import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * Application-level encryption of the most sensitive personal data (ID numbers, bank cards) at
 * rest: AES-256-GCM, a fresh 96-bit IV per value, the key id stored with each value so keys can
 * rotate. Stored form: `enc:v1:<keyId>:<iv>:<tag>:<ciphertext>` (base64url parts).
 *
 * Rotation: put a new key first in ONEWINDOW_DATA_KEYS and keep the old ones after it. New
 * writes use the first key; values under older keys stay readable.
 */
export const SENSITIVE_KEYS = new Set(['idNumber', 'bankCard']);
const PREFIX = 'enc:v1:';

export interface DataKey {
  id: string;
  key: Buffer;
}

export class PersonalDataCipher {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: DataKey[]) {
    if (keys.length === 0) throw new Error('at least one data key is needed');
    for (const k of keys) if (k.key.length !== 32) throw new Error(`data key ${k.id} must be 32 bytes`);
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** Parses `id:base64key[,id:base64key…]`, current key first. */
  static fromSpec(spec: string): PersonalDataCipher {
    return new PersonalDataCipher(
      spec.split(',').map((part) => {
        const [id, key] = part.trim().split(':');
        if (!id || !key) throw new Error('ONEWINDOW_DATA_KEYS must look like "key1:<base64 of 32 bytes>[,older:<…>]"');
        return { id, key: Buffer.from(key, 'base64') };
      }),
    );
  }

  /**
   * A keyed digest of a secret (a password in a request), so a record can tell two requests
   * apart without holding anything a secret could be guessed from offline: without the data
   * key, a dump of the digests is no guessing target. Keyed by the current key, so a rotation
   * changes it (a retry across one is refused, never mistaken for the original).
   */
  fingerprint(secret: string): string {
    return createHmac('sha256', this.keys[0].key).update(`onewindow:fingerprint:${secret}`).digest('base64url');
  }

  encrypt(plain: string): string {
    const { id, key } = this.keys[0];
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(id));
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${PREFIX}${id}:${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${ct.toString('base64url')}`;
  }

  decrypt(stored: string): string {
    if (!stored.startsWith(PREFIX)) return stored;
    const [id, iv, tag, ct] = stored.slice(PREFIX.length).split(':');
    const key = this.byId.get(id);
    if (!key) throw new Error(`personal data was encrypted under key "${id}", which is not configured`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(id));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** A copy with every sensitive field (at any depth) encrypted. */
  seal<T>(value: T): T {
    return mapSensitive(value, (s) => (s.startsWith(PREFIX) ? s : this.encrypt(s)));
  }

  /** A copy with every sensitive field decrypted. */
  open<T>(value: T): T {
    return mapSensitive(value, (s) => this.decrypt(s));
  }
}

function mapSensitive<T>(value: T, fn: (s: string) => string): T {
  if (Array.isArray(value)) return value.map((v) => mapSensitive(v, fn)) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SENSITIVE_KEYS.has(k) && typeof v === 'string' ? fn(v) : mapSensitive(v, fn);
  }
  return out as T;
}
