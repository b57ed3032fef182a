-- Every object of the taskflow extension in this database, as JSON rows
-- {"kind", "name", "detail"}: what test/upgrade/schema_diff.py compares between an upgraded
-- database and a fresh install. Names come from pg_describe_object/regprocedure/regclass, so they
-- do not depend on OIDs; lists (ACLs, roles) are sorted so creation order does not matter.
-- Column ORDER is compared (a table's row type, SELECT * and RETURNS SETOF depend on it).
-- Roles and role memberships are cluster-wide and are not in this snapshot.
WITH ext AS (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'taskflow'),
ns AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'taskflow'),
members AS (
  SELECT d.classid, d.objid, d.objsubid FROM pg_catalog.pg_depend d, ext
  WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
),
rel AS (
  SELECT c.* , c.oid AS reloid FROM pg_catalog.pg_class c
  WHERE c.relnamespace IN (SELECT oid FROM ns)
     OR c.oid IN (SELECT objid FROM members WHERE classid = 'pg_catalog.pg_class'::regclass)
),
fn AS (
  SELECT p.*, p.oid AS fnoid FROM pg_catalog.pg_proc p
  WHERE p.pronamespace IN (SELECT oid FROM ns)
     OR p.oid IN (SELECT objid FROM members WHERE classid = 'pg_catalog.pg_proc'::regclass)
),
rows(kind, name, detail) AS (
  -- extension membership (what ALTER EXTENSION ... ADD/DROP and CREATE inside the script record)
  SELECT 'member', pg_catalog.pg_describe_object(classid, objid, objsubid), ''
  FROM members
  UNION ALL
  SELECT 'extension', 'taskflow config tables',
         (SELECT pg_catalog.string_agg(c::regclass::text || ' WHERE ' || coalesce(nullif(w, ''), '(all)'), E'\n' ORDER BY c::regclass::text)
          FROM pg_catalog.pg_extension e, unnest(e.extconfig, e.extcondition) AS u(c, w) WHERE e.extname = 'taskflow')
  UNION ALL
  -- schema
  SELECT 'schema', n.nspname,
         'owner ' || pg_catalog.pg_get_userbyid(n.nspowner) || E'\nacl ' ||
         coalesce((SELECT pg_catalog.string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(n.nspacl) x), '-')
  FROM pg_catalog.pg_namespace n WHERE n.oid IN (SELECT oid FROM ns)
  UNION ALL
  -- functions, procedures, aggregates: the whole definition (body, volatility, security,
  -- search_path, cost, rows, parallel), owner, ACL
  SELECT CASE f.prokind WHEN 'a' THEN 'aggregate' WHEN 'p' THEN 'procedure' ELSE 'function' END,
         f.fnoid::regprocedure::text,
         CASE WHEN f.prokind = 'a' THEN
           (SELECT 'sfunc ' || a.aggtransfn::regprocedure::text || ' stype ' || pg_catalog.format_type(a.aggtranstype, NULL)
                   || ' finalfunc ' || coalesce(nullif(a.aggfinalfn, 0)::regprocedure::text, '-')
                   || ' initcond ' || coalesce(a.agginitval, '-') || ' returns ' || pg_catalog.format_type(f.prorettype, NULL)
            FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = f.fnoid)
         ELSE pg_catalog.pg_get_functiondef(f.fnoid) END
         || E'\nowner ' || pg_catalog.pg_get_userbyid(f.proowner)
         || E'\nacl ' || coalesce((SELECT pg_catalog.string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(f.proacl) x), '(default)')
  FROM fn f
  UNION ALL
  -- tables, views, sequences, indexes, composite types' relations
  SELECT CASE r.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                        WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index'
                        WHEN 'I' THEN 'index' WHEN 'c' THEN 'composite type' ELSE 'relation ' || r.relkind::text END,
         r.reloid::regclass::text,
         CASE WHEN r.relkind IN ('i', 'I') THEN pg_catalog.pg_get_indexdef(r.reloid)
              ELSE 'persistence ' || r.relpersistence::text || ' owner ' || pg_catalog.pg_get_userbyid(r.relowner)
                || ' rls ' || r.relrowsecurity || ' force_rls ' || r.relforcerowsecurity
                || ' options ' || coalesce(r.reloptions::text, '-')
                || E'\nacl ' || coalesce((SELECT pg_catalog.string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(r.relacl) x), '(default)')
                || CASE WHEN r.relkind IN ('v', 'm') THEN E'\n' || pg_catalog.pg_get_viewdef(r.reloid) ELSE '' END
                || CASE WHEN r.relkind = 'S' THEN
                     (SELECT E'\n' || pg_catalog.format_type(s.seqtypid, NULL) || ' start ' || s.seqstart || ' increment ' || s.seqincrement
                             || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' || s.seqcache || ' cycle ' || s.seqcycle
                      FROM pg_catalog.pg_sequence s WHERE s.seqrelid = r.reloid) ELSE '' END
         END
  FROM rel r WHERE r.relkind <> 't'
  UNION ALL
  -- columns: type, NOT NULL, default, identity, generated, collation, ACL
  SELECT 'column', r.reloid::regclass::text || '.' || pg_catalog.quote_ident(a.attname),
         pg_catalog.format_type(a.atttypid, a.atttypmod)
         || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
         || coalesce(' DEFAULT ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid), '')
         || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY' WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END
         || CASE a.attgenerated WHEN 's' THEN ' GENERATED STORED' ELSE '' END
         || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                 THEN ' COLLATE ' || (SELECT pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co WHERE co.oid = a.attcollation)
                 ELSE '' END
         || CASE WHEN a.attacl IS NOT NULL
                 THEN ' acl ' || (SELECT pg_catalog.string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(a.attacl) x) ELSE '' END
  FROM rel r
  JOIN pg_catalog.pg_attribute a ON a.attrelid = r.reloid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE r.relkind IN ('r', 'p', 'v', 'm', 'c', 'f')
  UNION ALL
  SELECT 'column order', r.reloid::regclass::text,
         (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
          FROM pg_catalog.pg_attribute a WHERE a.attrelid = r.reloid AND a.attnum > 0 AND NOT a.attisdropped)
  FROM rel r WHERE r.relkind IN ('r', 'p', 'v', 'm', 'c', 'f')
  UNION ALL
  -- constraints (of tables and of domains)
  SELECT 'constraint', pg_catalog.pg_describe_object('pg_catalog.pg_constraint'::regclass, co.oid, 0),
         pg_catalog.pg_get_constraintdef(co.oid)
         || CASE WHEN co.condeferrable THEN ' DEFERRABLE' ELSE '' END
         || CASE WHEN co.condeferred THEN ' INITIALLY DEFERRED' ELSE '' END
  FROM pg_catalog.pg_constraint co
  WHERE co.conrelid IN (SELECT reloid FROM rel)
     OR co.contypid IN (SELECT t.oid FROM pg_catalog.pg_type t WHERE t.typnamespace IN (SELECT oid FROM ns))
  UNION ALL
  -- triggers
  SELECT 'trigger', pg_catalog.pg_describe_object('pg_catalog.pg_trigger'::regclass, tg.oid, 0),
         pg_catalog.pg_get_triggerdef(tg.oid) || ' enabled ' || tg.tgenabled::text
  FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid IN (SELECT reloid FROM rel) AND NOT tg.tgisinternal
  UNION ALL
  -- row level security policies
  SELECT 'policy', pg_catalog.pg_describe_object('pg_catalog.pg_policy'::regclass, p.oid, 0),
         'cmd ' || p.polcmd::text || ' permissive ' || p.polpermissive
         || ' roles ' || (SELECT pg_catalog.string_agg(CASE WHEN x = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(x) END, ',' ORDER BY 1) FROM unnest(p.polroles) x)
         || E'\nusing ' || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '-')
         || E'\nwith check ' || coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '-')
  FROM pg_catalog.pg_policy p WHERE p.polrelid IN (SELECT reloid FROM rel)
  UNION ALL
  -- types: enums (labels in order), domains, composite and range types; ACL
  SELECT 'type', pg_catalog.format_type(t.oid, NULL),
         'typtype ' || t.typtype::text || ' owner ' || pg_catalog.pg_get_userbyid(t.typowner)
         || CASE WHEN t.typtype = 'e' THEN E'\nlabels ' ||
              (SELECT pg_catalog.string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid)
            ELSE '' END
         || CASE WHEN t.typtype = 'd' THEN E'\nbase ' || pg_catalog.format_type(t.typbasetype, t.typtypmod)
              || ' notnull ' || t.typnotnull || ' default ' || coalesce(t.typdefault, '-') ELSE '' END
         || E'\nacl ' || coalesce((SELECT pg_catalog.string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(t.typacl) x), '(default)')
  FROM pg_catalog.pg_type t
  WHERE t.typnamespace IN (SELECT oid FROM ns) AND t.typtype IN ('e', 'd', 'r', 'm', 'c')
    AND NOT (t.typtype = 'c' AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) <> 'c')
  UNION ALL
  -- event triggers of the extension
  SELECT 'event trigger', e.evtname,
         'on ' || e.evtevent || ' execute ' || e.evtfoid::regprocedure::text || ' enabled ' || e.evtenabled::text
         || ' tags ' || coalesce(e.evttags::text, '-') || ' owner ' || pg_catalog.pg_get_userbyid(e.evtowner)
  FROM pg_catalog.pg_event_trigger e
  WHERE e.oid IN (SELECT objid FROM members WHERE classid = 'pg_catalog.pg_event_trigger'::regclass)
  UNION ALL
  -- comments on any of the above (and on columns)
  SELECT 'comment', pg_catalog.pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description
  FROM pg_catalog.pg_description d
  WHERE (d.classoid = 'pg_catalog.pg_class'::regclass AND d.objoid IN (SELECT reloid FROM rel))
     OR (d.classoid = 'pg_catalog.pg_proc'::regclass AND d.objoid IN (SELECT fnoid FROM fn))
     OR (d.classoid = 'pg_catalog.pg_namespace'::regclass AND d.objoid IN (SELECT oid FROM ns))
     OR (d.classoid = 'pg_catalog.pg_type'::regclass AND d.objoid IN (SELECT t.oid FROM pg_catalog.pg_type t WHERE t.typnamespace IN (SELECT oid FROM ns)))
     OR (d.classoid = 'pg_catalog.pg_constraint'::regclass AND d.objoid IN (SELECT co.oid FROM pg_catalog.pg_constraint co WHERE co.conrelid IN (SELECT reloid FROM rel)))
     OR (d.classoid = 'pg_catalog.pg_trigger'::regclass AND d.objoid IN (SELECT tg.oid FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid IN (SELECT reloid FROM rel)))
     OR (d.classoid = 'pg_catalog.pg_policy'::regclass AND d.objoid IN (SELECT p.oid FROM pg_catalog.pg_policy p WHERE p.polrelid IN (SELECT reloid FROM rel)))
     OR (d.classoid = 'pg_catalog.pg_event_trigger'::regclass AND d.objoid IN (SELECT objid FROM members))
)
SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('kind', kind, 'name', name, 'detail', coalesce(detail, '')) ORDER BY kind, name)
FROM rows;
