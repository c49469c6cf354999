
-- Citus: a coordinator asks each node for the size of a table's shards there.
CREATE FUNCTION schema_guard._relations_bytes(relations text[])
RETURNS bigint
AS 'MODULE_PATHNAME', 'schema_guard_relations_bytes'
LANGUAGE C STABLE STRICT;

COMMENT ON FUNCTION schema_guard._relations_bytes(text[]) IS
  'Internal (Citus): the storage of the named relations on this node, summed, read without locks; NULL when one is missing';
