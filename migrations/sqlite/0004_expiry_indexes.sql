-- Indexes for the hourly purge of expired rows (refresh tokens, sign-in
-- sessions, invitations), so it does not scan whole tables.
CREATE INDEX IF NOT EXISTS refresh_tokens_expires ON refresh_tokens (expires_at);
CREATE INDEX IF NOT EXISTS auth_sessions_created ON auth_sessions (created_at);
CREATE INDEX IF NOT EXISTS invitations_expires ON invitations (expires_at);
