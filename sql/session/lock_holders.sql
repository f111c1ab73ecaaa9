-- session/lock_holders.sql: who holds what a toolkit session is waiting for, asked from a second
-- connection while the first one waits (tenantdb/database/plumbing/locks.py). One row per holder: its role,
-- pid, the lock it holds, what it is on, its application_name (what it says it is: a hint, the role
-- and pid are the facts), and since when its transaction has been open. The query text of the
-- holder is never read (it may hold another tenant's data).
-- A row lock shows as a wait on the holder's transaction id; a table lock as a wait on the relation.
-- Parameter: the waiting session's backend pid.
SELECT h.pid,
       a.usename::pg_catalog.text AS role,
       h.mode,
       h.locktype,
       CASE WHEN a.application_name OPERATOR(pg_catalog.<>) '' THEN a.application_name END AS application,
       CASE WHEN h.relation IS NOT NULL THEN h.relation::pg_catalog.regclass::pg_catalog.text
            WHEN h.locktype = 'transactionid' THEN 'a row it changed or locked'
            WHEN h.locktype = 'advisory' THEN 'an advisory lock'
            ELSE h.locktype END AS what,
       pg_catalog.round(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) a.xact_start))::int
         AS seconds
FROM pg_catalog.pg_locks w
JOIN pg_catalog.pg_locks h
  ON h.granted AND h.pid OPERATOR(pg_catalog.=) ANY (pg_catalog.pg_blocking_pids(w.pid))
 AND h.locktype OPERATOR(pg_catalog.=) w.locktype
 AND h.database IS NOT DISTINCT FROM w.database AND h.relation IS NOT DISTINCT FROM w.relation
 AND h.page IS NOT DISTINCT FROM w.page AND h.tuple IS NOT DISTINCT FROM w.tuple
 AND h.transactionid IS NOT DISTINCT FROM w.transactionid
 AND h.classid IS NOT DISTINCT FROM w.classid AND h.objid IS NOT DISTINCT FROM w.objid
 AND h.objsubid IS NOT DISTINCT FROM w.objsubid
LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) h.pid
WHERE w.pid OPERATOR(pg_catalog.=) %s AND NOT w.granted
ORDER BY h.pid
