-- Signing one session out (the console, /me/sessions) revokes the tokens
-- issued from it (RevokeSessionTokens): this index finds them without a
-- scan of every refresh token. Keep in step with sqlite/0012_session_tokens.sql.
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
