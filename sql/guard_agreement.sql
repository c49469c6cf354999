-- Every probe of the guard tests: the guard's verdict agrees with what the server did.
SELECT count(*) AS probes, count(*) FILTER (WHERE agrees) AS agreeing FROM sg_test.results;
SELECT label, rules, rewritten, scanned, index_built FROM sg_test.results WHERE agrees IS NOT TRUE;
-- schema_guard.check() on the same statements, with the same settings, never disagrees
-- with the hook
SELECT count(*) FILTER (WHERE rules = check_rules) AS check_agreeing FROM sg_test.results;
SELECT label, rules AS hook_rules, check_rules FROM sg_test.results WHERE rules <> check_rules;
-- every rule id that judges a statement is exercised by at least one probe
SELECT r.rule_id AS rule_without_probe
  FROM schema_guard.rules() r
 WHERE r.category IN ('rewrite', 'scan', 'index_build', 'breaking')
   AND r.rule_id NOT IN ('vacuum_full', 'set_expression_rewrite')  -- the latter: 17+, test/t/versions.sh
   AND NOT EXISTS (SELECT FROM sg_test.results x WHERE x.rules ~ ('\m' || r.rule_id || '\M'));
