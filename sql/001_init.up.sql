-- 001_init: the whole data model of mod_issuetracker.
--
-- Run by scripts/migrate inside one transaction (together with its
-- schema_migrations row): no BEGIN/COMMIT here.  docs/schema.md explains every
-- table, constraint and index.  Conventions:
--   * every entity: id uuid (gen_random_uuid()), created_at, updated_at,
--     version (optimistic locking, starts at 1); deletable ones also
--     is_deleted + deleted_at, set together (the *_deleted_check constraints);
--   * no triggers: the application sets updated_at and version in its UPDATEs;
--   * foreign keys are ON DELETE RESTRICT (rows are soft-deleted), except
--     issue_labels and issue_events, which cascade from issues;
--   * constraints carry explicit names so the application can map a SQLSTATE
--     23505/23514/23503 + constraint name to the field it concerns;
--   * list indexes are partial (WHERE NOT is_deleted) and end with id, the
--     keyset tie-breaker.

-- ---------------------------------------------------------------------------
-- users
-- ---------------------------------------------------------------------------
CREATE TABLE users (
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
    username         text        NOT NULL,
    email            text        NOT NULL,
    full_name        text,
    password_hash    text        NOT NULL,
    role             text        NOT NULL DEFAULT 'reporter',
    is_active        boolean     NOT NULL DEFAULT true,
    auth_source      text        NOT NULL DEFAULT 'local',
    external_subject text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    version          integer     NOT NULL DEFAULT 1,
    is_deleted       boolean     NOT NULL DEFAULT false,
    deleted_at       timestamptz,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    -- case is preserved but not significant: the shape check takes either
    -- case and users_username_lower_key makes 'Alice' and 'alice' collide
    CONSTRAINT users_username_check
        CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$'),
    CONSTRAINT users_email_check
        CHECK (char_length(email) <= 254
               AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    CONSTRAINT users_full_name_check
        CHECK (full_name IS NULL OR char_length(full_name) <= 200),
    CONSTRAINT users_password_hash_check
        CHECK (password_hash <> ''),
    CONSTRAINT users_role_check
        CHECK (role IN ('admin', 'manager', 'developer', 'reporter')),
    CONSTRAINT users_auth_source_check
        CHECK (auth_source IN ('local', 'external')),
    CONSTRAINT users_external_subject_check
        CHECK (external_subject IS NULL
               OR char_length(external_subject) BETWEEN 1 AND 255),
    CONSTRAINT users_version_check CHECK (version >= 1),
    CONSTRAINT users_deleted_check CHECK (is_deleted = (deleted_at IS NOT NULL))
);

-- Case-insensitive uniqueness over ALL rows (soft-deleted included), so a
-- restore can never collide.  Look users up with lower(col) = lower($1).
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE UNIQUE INDEX users_external_subject_key ON users (external_subject)
    WHERE external_subject IS NOT NULL;
CREATE INDEX users_role_idx ON users (role) WHERE NOT is_deleted;

-- ---------------------------------------------------------------------------
-- projects
-- ---------------------------------------------------------------------------
CREATE TABLE projects (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    key         text        NOT NULL,
    name        text        NOT NULL,
    description text,
    owner_id    uuid        NOT NULL,
    next_number integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer     NOT NULL DEFAULT 1,
    is_deleted  boolean     NOT NULL DEFAULT false,
    deleted_at  timestamptz,
    CONSTRAINT projects_pkey PRIMARY KEY (id),
    -- unique over all rows, soft-deleted included (issue keys stay unambiguous)
    CONSTRAINT projects_key_key UNIQUE (key),
    CONSTRAINT projects_key_check CHECK (key ~ '^[A-Z][A-Z0-9]{1,9}$'),
    CONSTRAINT projects_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT projects_description_check
        CHECK (description IS NULL OR octet_length(description) <= 65536),
    CONSTRAINT projects_owner_id_fkey FOREIGN KEY (owner_id)
        REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT projects_next_number_check CHECK (next_number >= 1),
    CONSTRAINT projects_version_check CHECK (version >= 1),
    CONSTRAINT projects_deleted_check CHECK (is_deleted = (deleted_at IS NOT NULL))
);

CREATE INDEX projects_owner_idx ON projects (owner_id) WHERE NOT is_deleted;

-- ---------------------------------------------------------------------------
-- issues
-- ---------------------------------------------------------------------------
CREATE TABLE issues (
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    project_id    uuid        NOT NULL,
    number        integer     NOT NULL,
    title         text        NOT NULL,
    description   text        NOT NULL DEFAULT '',
    status        text        NOT NULL DEFAULT 'open',
    priority      text        NOT NULL DEFAULT 'medium',
    type          text        NOT NULL DEFAULT 'task',
    creator_id    uuid        NOT NULL,
    assignee_id   uuid,
    resolved_at   timestamptz,
    closed_at     timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    version       integer     NOT NULL DEFAULT 1,
    is_deleted    boolean     NOT NULL DEFAULT false,
    deleted_at    timestamptz,
    priority_rank smallint    NOT NULL GENERATED ALWAYS AS (
        (CASE priority
             WHEN 'low' THEN 1
             WHEN 'medium' THEN 2
             WHEN 'high' THEN 3
             WHEN 'critical' THEN 4
         END)::smallint) STORED,
    search        tsvector    NOT NULL GENERATED ALWAYS AS (
        to_tsvector('simple'::regconfig, title || ' ' || description)) STORED,
    CONSTRAINT issues_pkey PRIMARY KEY (id),
    CONSTRAINT issues_project_id_number_key UNIQUE (project_id, number),
    CONSTRAINT issues_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE RESTRICT,
    CONSTRAINT issues_creator_id_fkey FOREIGN KEY (creator_id)
        REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT issues_assignee_id_fkey FOREIGN KEY (assignee_id)
        REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT issues_number_check CHECK (number >= 1),
    CONSTRAINT issues_title_check CHECK (char_length(title) BETWEEN 1 AND 200),
    CONSTRAINT issues_description_check CHECK (octet_length(description) <= 65536),
    CONSTRAINT issues_status_check
        CHECK (status IN ('open', 'in_progress', 'resolved', 'closed')),
    CONSTRAINT issues_priority_check
        CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    CONSTRAINT issues_type_check CHECK (type IN ('bug', 'feature', 'task')),
    CONSTRAINT issues_version_check CHECK (version >= 1),
    CONSTRAINT issues_deleted_check CHECK (is_deleted = (deleted_at IS NOT NULL))
);

-- List filters and sorts (GET /issues).  All partial on live rows; every
-- one ends with id so keyset pages are stable.  B-trees scan both ways, so
-- each serves sort=field and sort=-field.
CREATE INDEX issues_project_number_idx
    ON issues (project_id, number) WHERE NOT is_deleted;
CREATE INDEX issues_status_created_idx
    ON issues (status, created_at, id) WHERE NOT is_deleted;
CREATE INDEX issues_assignee_created_idx
    ON issues (assignee_id, created_at, id) WHERE NOT is_deleted;
CREATE INDEX issues_creator_created_idx
    ON issues (creator_id, created_at, id) WHERE NOT is_deleted;
CREATE INDEX issues_project_status_created_idx
    ON issues (project_id, status, created_at, id) WHERE NOT is_deleted;
CREATE INDEX issues_created_idx
    ON issues (created_at, id) WHERE NOT is_deleted;
CREATE INDEX issues_updated_idx
    ON issues (updated_at, id) WHERE NOT is_deleted;
CREATE INDEX issues_priority_idx
    ON issues (priority_rank, id) WHERE NOT is_deleted;
-- Reports (latency, velocity, top-assignees over resolved issues):
-- index-only scans over a resolved_at range.
CREATE INDEX issues_resolved_report_idx
    ON issues (resolved_at) INCLUDE (created_at, assignee_id, priority)
    WHERE NOT is_deleted AND resolved_at IS NOT NULL;
-- Full-text filter q=... (search @@ websearch_to_tsquery('simple', $1)).
CREATE INDEX issues_search_idx ON issues USING gin (search);

COMMENT ON COLUMN issues.number IS
    'per-project issue number (key PROJ-42), taken from projects.next_number under the project row lock';
COMMENT ON COLUMN issues.priority_rank IS
    'sort order of priority: low 1, medium 2, high 3, critical 4';

-- ---------------------------------------------------------------------------
-- comments (threaded)
-- ---------------------------------------------------------------------------
-- Thread path segments: 12-digit zero-padded values of this sequence, in
-- creation order.  Owned by comments.path (dropped with the table).
CREATE SEQUENCE comments_path_seq AS bigint
    MINVALUE 1 MAXVALUE 999999999999 NO CYCLE;

CREATE TABLE comments (
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    issue_id   uuid        NOT NULL,
    parent_id  uuid,
    author_id  uuid        NOT NULL,
    body       text        NOT NULL,
    depth      smallint    NOT NULL DEFAULT 0,
    -- top-level comments may omit path (the default is a one-segment path);
    -- replies must pass parent.path || '.' || <new segment>, see docs/schema.md
    path       text COLLATE "C" NOT NULL
               DEFAULT to_char(nextval('comments_path_seq'), 'FM000000000000'),
    edited_at  timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version    integer     NOT NULL DEFAULT 1,
    is_deleted boolean     NOT NULL DEFAULT false,
    deleted_at timestamptz,
    CONSTRAINT comments_pkey PRIMARY KEY (id),
    CONSTRAINT comments_issue_id_fkey FOREIGN KEY (issue_id)
        REFERENCES issues (id) ON DELETE RESTRICT,
    CONSTRAINT comments_parent_id_fkey FOREIGN KEY (parent_id)
        REFERENCES comments (id) ON DELETE RESTRICT,
    CONSTRAINT comments_author_id_fkey FOREIGN KEY (author_id)
        REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT comments_body_check CHECK (char_length(body) BETWEEN 1 AND 65536),
    CONSTRAINT comments_depth_check CHECK (depth BETWEEN 0 AND 20),
    CONSTRAINT comments_parent_depth_check
        CHECK ((parent_id IS NULL) = (depth = 0) AND parent_id IS DISTINCT FROM id),
    -- depth + 1 segments of 12 digits separated by '.'
    CONSTRAINT comments_path_check
        CHECK (path ~ '^[0-9]{12}(\.[0-9]{12})*$'
               AND char_length(path) = 13 * depth + 12),
    CONSTRAINT comments_version_check CHECK (version >= 1),
    CONSTRAINT comments_deleted_check CHECK (is_deleted = (deleted_at IS NOT NULL))
);

ALTER SEQUENCE comments_path_seq OWNED BY comments.path;

-- Thread order (GET /issues/{id}/comments ORDER BY path) and keyset cursor;
-- unique, not partial: it also orders the thread when deleted comments are
-- shown (include_deleted) and guarantees that no two comments share a path.
CREATE UNIQUE INDEX comments_issue_path_key ON comments (issue_id, path);

COMMENT ON COLUMN comments.path IS
    'materialised thread path: ancestors'' segments then own segment, 12-digit zero-padded comments_path_seq values joined by ''.''; ORDER BY path = thread order';

-- ---------------------------------------------------------------------------
-- labels
-- ---------------------------------------------------------------------------
CREATE TABLE labels (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    name        text        NOT NULL,
    color       text        NOT NULL DEFAULT '#808080',
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer     NOT NULL DEFAULT 1,
    is_deleted  boolean     NOT NULL DEFAULT false,
    deleted_at  timestamptz,
    CONSTRAINT labels_pkey PRIMARY KEY (id),
    CONSTRAINT labels_name_check CHECK (char_length(name) BETWEEN 1 AND 50),
    CONSTRAINT labels_color_check CHECK (color ~ '^#[0-9A-Fa-f]{6}$'),
    CONSTRAINT labels_description_check
        CHECK (description IS NULL OR octet_length(description) <= 65536),
    CONSTRAINT labels_version_check CHECK (version >= 1),
    CONSTRAINT labels_deleted_check CHECK (is_deleted = (deleted_at IS NOT NULL))
);

-- Case-insensitive uniqueness among live labels (a deleted name can be
-- reused; restoring it then may be a 409).  Also serves label=<name>.
CREATE UNIQUE INDEX labels_name_lower_key ON labels (lower(name)) WHERE NOT is_deleted;

-- ---------------------------------------------------------------------------
-- issue_labels
-- ---------------------------------------------------------------------------
CREATE TABLE issue_labels (
    issue_id   uuid        NOT NULL,
    label_id   uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT issue_labels_pkey PRIMARY KEY (issue_id, label_id),
    CONSTRAINT issue_labels_issue_id_fkey FOREIGN KEY (issue_id)
        REFERENCES issues (id) ON DELETE CASCADE,
    CONSTRAINT issue_labels_label_id_fkey FOREIGN KEY (label_id)
        REFERENCES labels (id) ON DELETE RESTRICT
);

-- label filter (issues carrying label X) from the label side
CREATE INDEX issue_labels_label_issue_idx ON issue_labels (label_id, issue_id);

-- ---------------------------------------------------------------------------
-- attachments
-- ---------------------------------------------------------------------------
CREATE TABLE attachments (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    issue_id     uuid        NOT NULL,
    uploader_id  uuid        NOT NULL,
    filename     text        NOT NULL,
    content_type text        NOT NULL,
    size_bytes   bigint      NOT NULL,
    sha256       text        NOT NULL,
    storage_key  text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    version      integer     NOT NULL DEFAULT 1,
    is_deleted   boolean     NOT NULL DEFAULT false,
    deleted_at   timestamptz,
    CONSTRAINT attachments_pkey PRIMARY KEY (id),
    CONSTRAINT attachments_storage_key_key UNIQUE (storage_key),
    CONSTRAINT attachments_issue_id_fkey FOREIGN KEY (issue_id)
        REFERENCES issues (id) ON DELETE RESTRICT,
    CONSTRAINT attachments_uploader_id_fkey FOREIGN KEY (uploader_id)
        REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT attachments_filename_check
        CHECK (char_length(filename) BETWEEN 1 AND 255),
    CONSTRAINT attachments_content_type_check
        CHECK (char_length(content_type) BETWEEN 1 AND 255),
    CONSTRAINT attachments_size_bytes_check CHECK (size_bytes >= 0),
    CONSTRAINT attachments_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- a relative path below IssueTrackerUploadDir: no leading '/', no '..'
    CONSTRAINT attachments_storage_key_check
        CHECK (char_length(storage_key) BETWEEN 1 AND 1024
               AND storage_key !~ '^/'
               AND storage_key !~ '(^|/)\.\.(/|$)'),
    CONSTRAINT attachments_version_check CHECK (version >= 1),
    CONSTRAINT attachments_deleted_check CHECK (is_deleted = (deleted_at IS NOT NULL))
);

-- GET /issues/{id}/attachments, in upload order
CREATE INDEX attachments_issue_created_idx
    ON attachments (issue_id, created_at, id) WHERE NOT is_deleted;

-- ---------------------------------------------------------------------------
-- issue_events: the per-issue timeline (append-only)
-- ---------------------------------------------------------------------------
CREATE TABLE issue_events (
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    issue_id   uuid        NOT NULL,
    kind       text        NOT NULL,
    actor_id   uuid,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    seq        bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
    data       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT issue_events_pkey PRIMARY KEY (id),
    CONSTRAINT issue_events_issue_id_fkey FOREIGN KEY (issue_id)
        REFERENCES issues (id) ON DELETE CASCADE,
    CONSTRAINT issue_events_actor_id_fkey FOREIGN KEY (actor_id)
        REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT issue_events_kind_check CHECK (kind IN (
        'created', 'status_changed', 'assigned', 'field_changed',
        'commented', 'comment_edited', 'comment_deleted',
        'labeled', 'unlabeled', 'attachment_added', 'attachment_removed',
        'deleted', 'restored')),
    CONSTRAINT issue_events_data_check CHECK (jsonb_typeof(data) = 'object')
);

-- GET /issues/{id}/timeline ORDER BY created_at, seq
CREATE INDEX issue_events_issue_created_idx
    ON issue_events (issue_id, created_at, seq);

COMMENT ON COLUMN issue_events.seq IS
    'insertion order; breaks created_at ties between events of one transaction';

-- ---------------------------------------------------------------------------
-- idempotency_keys: Idempotency-Key replay store
-- ---------------------------------------------------------------------------
CREATE TABLE idempotency_keys (
    user_id          uuid        NOT NULL,
    key              text        NOT NULL,
    request_hash     text        NOT NULL,
    method           text        NOT NULL,
    path             text        NOT NULL,
    status           integer,
    response_body    text,
    response_headers jsonb,
    resource_id      uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key),
    CONSTRAINT idempotency_keys_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT idempotency_keys_key_check CHECK (char_length(key) BETWEEN 1 AND 255),
    -- NULL while the first request is still in flight
    CONSTRAINT idempotency_keys_status_check
        CHECK (status IS NULL OR status BETWEEN 100 AND 599)
);

-- purge: DELETE FROM idempotency_keys WHERE expires_at < now()
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
