-- schema_guard 0.2.0 -> 0.3.0, written by hand: one commented section per object.
\echo Use "ALTER EXTENSION schema_guard UPDATE TO '0.3.0'" to load this file. \quit
