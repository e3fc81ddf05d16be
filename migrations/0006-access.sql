-- Access: API keys for systems (head-ends, billing and planning tools, portals). Only the
-- SHA-256 of each key is stored; the key itself is shown once, when it is created. A revoked
-- key keeps its row (who had access, until when).

CREATE TABLE api_key (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text,
  role text NOT NULL
    CHECK (role IN ('customer', 'billing', 'planner', 'operator', 'headend', 'admin')),
  -- a customer key is bound to accounts (by code); other roles are not
  account_codes text[] NOT NULL DEFAULT '{}'
    CHECK ((role = 'customer') = (cardinality(account_codes) > 0)),
  prefix text NOT NULL,
  secret_sha256 text NOT NULL UNIQUE CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
