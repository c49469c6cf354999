-- pgTAP: verdicts through throws_ok / lives_ok (PL/pgSQL EXECUTE, QUERY context).
-- The fixture is committed first so that it is not "created in this transaction".
SET client_min_messages = warning;
SET schema_guard.mode = off;
DROP TABLE IF EXISTS tap_orders, tap_customers;
CREATE TABLE tap_customers (id int PRIMARY KEY);
INSERT INTO tap_customers SELECT generate_series(1, 500);
CREATE TABLE tap_orders (id int PRIMARY KEY, customer_id int, total numeric(8,2), note varchar(20));
INSERT INTO tap_orders SELECT g, g % 500 + 1, g, 'n' FROM generate_series(1, 2000) g;
RESET schema_guard.mode;

BEGIN;
SELECT plan(12);
SET LOCAL lock_timeout = '5s';
SELECT throws_ok($$CREATE INDEX ON tap_orders (customer_id)$$, 'SG001', NULL, 'CREATE INDEX without CONCURRENTLY is blocked');
SELECT throws_ok($$ALTER TABLE tap_orders ADD CONSTRAINT fk FOREIGN KEY (customer_id) REFERENCES tap_customers$$, 'SG001', NULL, 'a validated FOREIGN KEY is blocked');
SELECT lives_ok($$ALTER TABLE tap_orders ADD CONSTRAINT fk FOREIGN KEY (customer_id) REFERENCES tap_customers NOT VALID$$, 'NOT VALID passes');
SELECT throws_ok($$ALTER TABLE tap_orders ALTER COLUMN total TYPE numeric(8,3)$$, 'SG001', NULL, 'a scale change rewrites: blocked');
SELECT lives_ok($$ALTER TABLE tap_orders ALTER COLUMN total TYPE numeric(10,2)$$, 'a precision widening passes');
SELECT lives_ok($$ALTER TABLE tap_orders ALTER COLUMN note TYPE varchar(40)$$, 'varchar widening passes');
SELECT throws_ok($$ALTER TABLE tap_orders ALTER COLUMN note TYPE varchar(5)$$, 'SG001', NULL, 'varchar shrink is blocked');
SELECT throws_ok($$ALTER TABLE tap_orders RENAME COLUMN note TO remark$$, 'SG001', 'schema_guard: rename_column: renaming column note of table public.tap_orders breaks running code that uses the old name', 'rename_column message');
SELECT lives_ok($$ALTER TABLE tap_orders ADD COLUMN created timestamptz DEFAULT now()$$, 'ADD COLUMN with now() passes');
SELECT throws_ok($$ALTER TABLE tap_orders ADD COLUMN r uuid DEFAULT gen_random_uuid()$$, 'SG001', NULL, 'ADD COLUMN with gen_random_uuid() is blocked');
SET LOCAL schema_guard.allow = 'rename_column';
SELECT lives_ok($$ALTER TABLE tap_orders RENAME COLUMN note TO remark$$, 'allowed by SET LOCAL schema_guard.allow');
SET LOCAL schema_guard.mode = warn;
SET LOCAL client_min_messages = error;
SELECT lives_ok($$CREATE INDEX ON tap_orders (customer_id)$$, 'warn mode runs the statement');
SELECT * FROM finish();
ROLLBACK;
SET schema_guard.mode = off;
DROP TABLE tap_orders, tap_customers;
