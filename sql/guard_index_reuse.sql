-- ALTER COLUMN TYPE without a heap rewrite: PostgreSQL keeps an index's storage
-- when CheckIndexCompatible() accepts the index re-created from its deparsed
-- definition (same operator class, collation and exclusion operators; no
-- expression, predicate or partitioned parent).  Each probe compares the guard's
-- verdict with the index relfilenodes the server really kept or replaced.
SET client_min_messages = warning;
\pset null '-'
SET schema_guard.mode = off;
-- What Django creates for a CharField(max_length=10, db_index=True) and a unique one.
CREATE TABLE dj_author (
  id int PRIMARY KEY, name varchar(10), slug varchar(10) UNIQUE, bio text,
  bio_c text COLLATE "C", tags int[], period int4range, extra varchar(5), nick varchar(5));
CREATE INDEX dj_author_name ON dj_author (name);
CREATE INDEX dj_author_name_like ON dj_author (name varchar_pattern_ops);
CREATE INDEX dj_author_slug_like ON dj_author (slug varchar_pattern_ops);
CREATE INDEX dj_author_bio_pattern ON dj_author (bio text_pattern_ops);
CREATE INDEX dj_author_bio_c ON dj_author (bio_c);
CREATE INDEX dj_author_bio_in_c ON dj_author (bio COLLATE "C");
CREATE INDEX dj_author_tags ON dj_author (tags);
CREATE INDEX dj_author_name_hash ON dj_author USING hash (name);
CREATE INDEX dj_author_id_incl ON dj_author (id) INCLUDE (extra);
CREATE INDEX dj_author_lower ON dj_author (lower(nick));
ALTER TABLE dj_author ADD CONSTRAINT dj_author_no_overlap EXCLUDE USING gist (period WITH &&);
INSERT INTO dj_author SELECT g, 'n' || g, 's' || g, 'b' || g, 'c' || g, ARRAY[g], int4range(g, g + 1), 'e', 'k'
  FROM generate_series(1, 2000) g;
CREATE DOMAIN int_list AS int[];
CREATE TABLE dj_tagged (id int, tags int_list);
CREATE INDEX dj_tagged_tags ON dj_tagged (tags);
INSERT INTO dj_tagged SELECT g, ARRAY[g] FROM generate_series(1, 2000) g;
-- A foreign key between varchar keys, with the *_like index on the referencing side.
CREATE TABLE dj_country (code varchar(10) PRIMARY KEY);
INSERT INTO dj_country SELECT 'c' || g FROM generate_series(1, 2000) g;
CREATE TABLE dj_city (id int, country varchar(10) REFERENCES dj_country);
CREATE INDEX dj_city_country_like ON dj_city (country varchar_pattern_ops);
INSERT INTO dj_city SELECT g, 'c' || g FROM generate_series(1, 2000) g;
-- Partitioned: indexes attached to a parent index are built again; a partition's
-- own index is judged like any other.
CREATE TABLE dj_event (id int, name varchar(10), note varchar(10)) PARTITION BY RANGE (id);
CREATE TABLE dj_event_1 PARTITION OF dj_event FOR VALUES FROM (0) TO (1000);
CREATE TABLE dj_event_2 PARTITION OF dj_event FOR VALUES FROM (1000) TO (3000);
CREATE INDEX dj_event_name_like ON dj_event (name varchar_pattern_ops);
CREATE INDEX dj_event_1_note ON dj_event_1 (note varchar_pattern_ops);
INSERT INTO dj_event SELECT g, 'n' || g, 'x' || g FROM generate_series(1, 2000) g;
ANALYZE;
RESET schema_guard.mode;

-- kept: the re-created index names the same operator class and collation
SELECT * FROM sg_test.probe('widen varchar with varchar_pattern_ops index', 'ALTER TABLE dj_author ALTER COLUMN name TYPE varchar(20)', 'dj_author');
SELECT * FROM sg_test.probe('varchar to text with varchar_pattern_ops index', 'ALTER TABLE dj_author ALTER COLUMN name TYPE text', 'dj_author');
SELECT * FROM sg_test.probe('widen unique varchar with *_like index', 'ALTER TABLE dj_author ALTER COLUMN slug TYPE varchar(64)', 'dj_author');
SELECT * FROM sg_test.probe('text to varchar keeps text_pattern_ops and COLLATE "C" indexes', 'ALTER TABLE dj_author ALTER COLUMN bio TYPE varchar', 'dj_author');
SELECT * FROM sg_test.probe('same collation spelled out', 'ALTER TABLE dj_author ALTER COLUMN bio_c TYPE varchar COLLATE "C"', 'dj_author');
SELECT * FROM sg_test.probe('INCLUDE column widened', 'ALTER TABLE dj_author ALTER COLUMN extra TYPE varchar(50)', 'dj_author');
SELECT * FROM sg_test.probe('referencing varchar widened', 'ALTER TABLE dj_city ALTER COLUMN country TYPE varchar(20)', 'dj_city');
SELECT * FROM sg_test.probe('referenced varchar key widened', 'ALTER TABLE dj_country ALTER COLUMN code TYPE varchar(20)', 'dj_country');
SELECT * FROM sg_test.probe('partition''s own index kept', 'ALTER TABLE dj_event ALTER COLUMN note TYPE varchar(20)', 'dj_event_1');
-- rebuilt: operator class, collation or key type differ, or the index cannot be judged
SELECT * FROM sg_test.probe('collation C to default rebuilds', 'ALTER TABLE dj_author ALTER COLUMN bio_c TYPE text', 'dj_author');
SELECT * FROM sg_test.probe('default to collation C rebuilds the default index', 'ALTER TABLE dj_author ALTER COLUMN bio TYPE text COLLATE "C"', 'dj_author');
SELECT * FROM sg_test.probe('domain over int[] to int[]: polymorphic array_ops', 'ALTER TABLE dj_tagged ALTER COLUMN tags TYPE int[]', 'dj_tagged');
SELECT * FROM sg_test.probe('expression index on the column', 'ALTER TABLE dj_author ALTER COLUMN nick TYPE text', 'dj_author');
SELECT * FROM sg_test.probe('partitioned parent index rebuilt on partitions', 'ALTER TABLE dj_event ALTER COLUMN name TYPE varchar(20)', 'dj_event_1');
-- A type's default operator class, as the guard remembers it between statements: it
-- is forgotten when pg_opclass (or pg_cast, pg_type) changes.  First a type that is
-- implicitly binary-coercible to int4 has int4_ops as its default (the index is
-- kept); then it gets a default class of its own (the index is rebuilt).
SET schema_guard.mode = off;
CREATE TYPE dj_myint;
CREATE FUNCTION dj_myint_in(cstring) RETURNS dj_myint AS 'int4in' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION dj_myint_out(dj_myint) RETURNS cstring AS 'int4out' LANGUAGE internal IMMUTABLE STRICT;
CREATE TYPE dj_myint (input = dj_myint_in, output = dj_myint_out, like = int4);
CREATE CAST (int4 AS dj_myint) WITHOUT FUNCTION AS ASSIGNMENT;
CREATE CAST (dj_myint AS int4) WITHOUT FUNCTION AS IMPLICIT;
CREATE FUNCTION dj_myint_lt(dj_myint, dj_myint) RETURNS bool AS 'int4lt' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION dj_myint_le(dj_myint, dj_myint) RETURNS bool AS 'int4le' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION dj_myint_eq(dj_myint, dj_myint) RETURNS bool AS 'int4eq' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION dj_myint_ge(dj_myint, dj_myint) RETURNS bool AS 'int4ge' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION dj_myint_gt(dj_myint, dj_myint) RETURNS bool AS 'int4gt' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION dj_myint_cmp(dj_myint, dj_myint) RETURNS int AS 'btint4cmp' LANGUAGE internal IMMUTABLE STRICT;
CREATE OPERATOR < (leftarg = dj_myint, rightarg = dj_myint, function = dj_myint_lt);
CREATE OPERATOR <= (leftarg = dj_myint, rightarg = dj_myint, function = dj_myint_le);
CREATE OPERATOR = (leftarg = dj_myint, rightarg = dj_myint, function = dj_myint_eq);
CREATE OPERATOR >= (leftarg = dj_myint, rightarg = dj_myint, function = dj_myint_ge);
CREATE OPERATOR > (leftarg = dj_myint, rightarg = dj_myint, function = dj_myint_gt);
CREATE TABLE dj_counter (n int4);
CREATE INDEX dj_counter_n ON dj_counter (n);
INSERT INTO dj_counter SELECT generate_series(1, 2000);
RESET schema_guard.mode;
SELECT * FROM sg_test.probe('to a type whose default operator class is int4_ops', 'ALTER TABLE dj_counter ALTER COLUMN n TYPE dj_myint', 'dj_counter');
SET schema_guard.mode = off;
CREATE OPERATOR CLASS dj_myint_ops DEFAULT FOR TYPE dj_myint USING btree AS
  OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 dj_myint_cmp(dj_myint, dj_myint);
RESET schema_guard.mode;
SELECT * FROM sg_test.probe('to a type with a default operator class of its own', 'ALTER TABLE dj_counter ALTER COLUMN n TYPE dj_myint', 'dj_counter');
-- the message names the index that is built again
SET schema_guard.mode = block;
SET lock_timeout = '2s';
ALTER TABLE dj_author ALTER COLUMN bio_c TYPE text;
ALTER TABLE dj_tagged ALTER COLUMN tags TYPE int[];
ALTER TABLE dj_event ALTER COLUMN name TYPE varchar(20);
RESET lock_timeout;
RESET schema_guard.mode;
