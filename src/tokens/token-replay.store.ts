import { Inject, Injectable } from '@nestjs/common';
import { DatabaseService, isUniqueViolation } from '../database/database.service.js';

/**
 * Ids of tokens already accepted, kept until the token expires, in the shared database so
 * every replica (and every instance of the organisation sharing it) sees the same set.
 */
@Injectable()
export class TokenReplayStore {
  constructor(@Inject(DatabaseService) private readonly db: DatabaseService) {}

  /** Records `tokenId`; false when it was recorded before (a replay). */
  async claim(tokenId: string, expiresAt: Date, now: Date): Promise<boolean> {
    await this.db.query('DELETE FROM token_replays WHERE expires_at < ?', [this.db.date(now)]);
    try {
      await this.db.query('INSERT INTO token_replays (token_id, expires_at, created_at) VALUES (?, ?, ?)', [
        tokenId,
        this.db.date(expiresAt),
        this.db.date(now),
      ]);
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }
}
