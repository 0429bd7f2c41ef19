-- CacheCluster: PostgreSQL schema for Orleans ADO.NET clustering (Microsoft.Orleans.Clustering.AdoNet 10.4.x,
-- invariant "Npgsql"). The NuGet package ships no SQL; this script is ours, written against the provider's
-- contract:
--
--   * at start-up the provider runs `SELECT QueryKey, QueryText FROM OrleansQuery` and requires the keys
--     GatewaysQueryKey, MembershipReadRowKey, MembershipReadAllKey, InsertMembershipVersionKey,
--     UpdateIAmAlivetimeKey, InsertMembershipKey, UpdateMembershipKey, DeleteMembershipTableEntriesKey and
--     CleanupDefunctSiloEntriesKey; CleanupDefunctSiloEntryKey is optional (10.4+) and, when present, is used
--     instead of the bulk cleanup;
--   * queries receive named parameters (@DeploymentId = the cluster id, @Address, @Port, @Generation, @SiloName,
--     @HostName, @Status, @ProxyPort, @SuspectTimes, @StartTime, @IAmAliveTime, @Version);
--   * the insert/update/insert-version queries return one row with one column read as a boolean;
--   * reads return Address, Port, Generation, SiloName, HostName, Status, ProxyPort, SuspectTimes, StartTime,
--     IAmAliveTime and Version, one row per member, or one row with the version and NULL member columns when the
--     cluster has no members yet (a NULL StartTime means "no member").
--
-- The membership version row is the optimistic-concurrency token of the whole table: every insert or update of
-- a member must name the version it read and bumps it by one, atomically with the member change.
--
-- Idempotent: safe to run again on an existing schema (CREATE ... IF NOT EXISTS, CREATE OR REPLACE, upserts of
-- the query rows). Runs in one transaction; PostgresSchema.cs holds an advisory lock around it so that nodes
-- starting at the same moment do not race. Identifiers are unquoted (PostgreSQL folds them to lower case), as
-- the provider's own statement expects.

-- Query catalogue shared by every Orleans ADO.NET provider.
CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  varchar(64)   NOT NULL,
    QueryText varchar(8000) NOT NULL,
    CONSTRAINT OrleansQuery_Key PRIMARY KEY (QueryKey)
);

-- One row per cluster (DeploymentId = ClusterId): the table version.
CREATE TABLE IF NOT EXISTS OrleansMembershipVersionTable
(
    DeploymentId varchar(150)   NOT NULL,
    Timestamp    timestamptz(3) NOT NULL DEFAULT now(),
    Version      integer        NOT NULL DEFAULT 0,
    CONSTRAINT PK_OrleansMembershipVersionTable_DeploymentId PRIMARY KEY (DeploymentId)
);

-- One row per silo incarnation (address, port, generation). Status is Orleans' SiloStatus
-- (1 Created, 2 Joining, 3 Active, 4 ShuttingDown, 5 Stopping, 6 Dead).
CREATE TABLE IF NOT EXISTS OrleansMembershipTable
(
    DeploymentId varchar(150)   NOT NULL,
    Address      varchar(45)    NOT NULL,
    Port         integer        NOT NULL,
    Generation   integer        NOT NULL,
    SiloName     varchar(150)   NOT NULL,
    HostName     varchar(150)   NOT NULL,
    Status       integer        NOT NULL,
    ProxyPort    integer        NULL,
    SuspectTimes varchar(8000)  NULL,
    StartTime    timestamptz(3) NOT NULL,
    IAmAliveTime timestamptz(3) NOT NULL,
    CONSTRAINT PK_MembershipTable_DeploymentId PRIMARY KEY (DeploymentId, Address, Port, Generation),
    CONSTRAINT FK_MembershipTable_MembershipVersionTable_DeploymentId
        FOREIGN KEY (DeploymentId) REFERENCES OrleansMembershipVersionTable (DeploymentId)
);

-- Creates the version row of a cluster if missing. Returns 1 if this call created it, else 0.
CREATE OR REPLACE FUNCTION cachecluster_membership_init_version(p_deployment_id text)
    RETURNS integer
    LANGUAGE plpgsql
AS $body$
DECLARE
    n integer;
BEGIN
    INSERT INTO OrleansMembershipVersionTable (DeploymentId)
    VALUES (p_deployment_id)
    ON CONFLICT (DeploymentId) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$body$;

-- Adds a silo's row if the table version is still p_version and no row with that key exists; bumps the version.
-- Returns 1 on success, 0 (and changes nothing) otherwise. The version row is locked first, by every writer, so
-- concurrent writers queue on it and never deadlock.
CREATE OR REPLACE FUNCTION cachecluster_membership_insert(
    p_deployment_id  text,
    p_address        text,
    p_port           integer,
    p_generation     integer,
    p_silo_name      text,
    p_host_name      text,
    p_status         integer,
    p_proxy_port     integer,
    p_start_time     timestamptz,
    p_i_am_alive     timestamptz,
    p_version        integer)
    RETURNS integer
    LANGUAGE plpgsql
AS $body$
DECLARE
    n integer;
BEGIN
    UPDATE OrleansMembershipVersionTable
       SET Version = Version + 1, Timestamp = now()
     WHERE DeploymentId = p_deployment_id AND Version = p_version;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RETURN 0; -- someone else changed the table since the caller read it
    END IF;

    INSERT INTO OrleansMembershipTable
        (DeploymentId, Address, Port, Generation, SiloName, HostName, Status, ProxyPort, StartTime, IAmAliveTime)
    VALUES
        (p_deployment_id, p_address, p_port, p_generation, p_silo_name, p_host_name, p_status, p_proxy_port,
         p_start_time, p_i_am_alive)
    ON CONFLICT (DeploymentId, Address, Port, Generation) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        -- The row exists already: undo the version bump by failing this function's statement.
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'cachecluster: membership row exists';
    END IF;
    RETURN 1;
EXCEPTION
    WHEN SQLSTATE 'P0001' THEN
        RETURN 0; -- the block's changes (the version bump) are rolled back
END
$body$;

-- Changes a silo's status, suspicions and heartbeat if the table version is still p_version; bumps the version.
-- Returns 1 on success, 0 (and changes nothing, not even the version) otherwise.
CREATE OR REPLACE FUNCTION cachecluster_membership_update(
    p_deployment_id  text,
    p_address        text,
    p_port           integer,
    p_generation     integer,
    p_status         integer,
    p_suspect_times  text,
    p_i_am_alive     timestamptz,
    p_version        integer)
    RETURNS integer
    LANGUAGE plpgsql
AS $body$
DECLARE
    n integer;
BEGIN
    UPDATE OrleansMembershipVersionTable
       SET Version = Version + 1, Timestamp = now()
     WHERE DeploymentId = p_deployment_id AND Version = p_version;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RETURN 0;
    END IF;

    UPDATE OrleansMembershipTable
       SET Status = p_status, SuspectTimes = p_suspect_times, IAmAliveTime = p_i_am_alive
     WHERE DeploymentId = p_deployment_id AND Address = p_address AND Port = p_port AND Generation = p_generation;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'cachecluster: membership row missing';
    END IF;
    RETURN 1;
EXCEPTION
    WHEN SQLSTATE 'P0001' THEN
        RETURN 0;
END
$body$;

-- The query rows. Upserted, so re-running this script also brings older definitions up to date (a running
-- silo keeps the texts it loaded at start-up).
INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('InsertMembershipVersionKey', '
SELECT cachecluster_membership_init_version(@DeploymentId) AS created;
'),
('InsertMembershipKey', '
SELECT cachecluster_membership_insert(@DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName,
    @Status, @ProxyPort, @StartTime, @IAmAliveTime, @Version) AS inserted;
'),
('UpdateMembershipKey', '
SELECT cachecluster_membership_update(@DeploymentId, @Address, @Port, @Generation, @Status, @SuspectTimes,
    @IAmAliveTime, @Version) AS updated;
'),
('UpdateIAmAlivetimeKey', '
UPDATE OrleansMembershipTable
   SET IAmAliveTime = @IAmAliveTime
 WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation;
'),
('MembershipReadRowKey', '
SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
       m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
  FROM OrleansMembershipVersionTable v
  LEFT JOIN OrleansMembershipTable m
         ON m.DeploymentId = v.DeploymentId
        AND m.Address = @Address AND m.Port = @Port AND m.Generation = @Generation
 WHERE v.DeploymentId = @DeploymentId;
'),
('MembershipReadAllKey', '
SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
       m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
  FROM OrleansMembershipVersionTable v
  LEFT JOIN OrleansMembershipTable m ON m.DeploymentId = v.DeploymentId
 WHERE v.DeploymentId = @DeploymentId;
'),
('GatewaysQueryKey', '
SELECT Address, ProxyPort, Generation
  FROM OrleansMembershipTable
 WHERE DeploymentId = @DeploymentId AND Status = @Status AND ProxyPort > 0;
'),
('DeleteMembershipTableEntriesKey', '
DELETE FROM OrleansMembershipTable WHERE DeploymentId = @DeploymentId;
DELETE FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId;
'),
-- Required but, with the row-wise query below present, not used by 10.4.x: Dead rows whose start and last
-- heartbeat are both older than the cut-off.
('CleanupDefunctSiloEntriesKey', '
DELETE FROM OrleansMembershipTable
 WHERE DeploymentId = @DeploymentId AND Status = 6
   AND IAmAliveTime < @IAmAliveTime AND StartTime < @IAmAliveTime;
'),
-- Row-wise cleanup: the provider picks expired Dead rows from a read and deletes each one only if it still
-- holds the values it read (so a row changed meanwhile is left alone). Does not touch the version.
('CleanupDefunctSiloEntryKey', '
DELETE FROM OrleansMembershipTable
 WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation
   AND Status = 6
   AND StartTime = @StartTime AND IAmAliveTime = @IAmAliveTime
   AND COALESCE(SuspectTimes, '''') = COALESCE(@SuspectTimes, '''');
')
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = EXCLUDED.QueryText;
