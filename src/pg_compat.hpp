// Version differences between the PostgreSQL majors schema_guard builds against.
// From 14 on the ProcessUtility_hook signature is identical, so this stays small.
#pragma once

#if PG_VERSION_NUM < 140000 || PG_VERSION_NUM >= 190000
#error "schema_guard supports PostgreSQL 14 to 18"
#endif

#if PG_VERSION_NUM < 150000
// PostgreSQL 14 has the older name for reserving a GUC prefix.
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

#if PG_VERSION_NUM >= 160000
#define SG_GUC_MALLOC(size) guc_malloc(LOG, (size))
#define SG_GUC_FREE(ptr) guc_free(ptr)
#else
#define SG_GUC_MALLOC(size) malloc(size)
#define SG_GUC_FREE(ptr) free(ptr)
#endif

#if PG_VERSION_NUM < 150000
// InitMaterializedSRF arrived in 15; 14 has the same helper under another name.
#define InitMaterializedSRF(fcinfo, flags) SetSingleFuncCall((fcinfo), (flags))
#endif

// Tree walkers: PostgreSQL 15 declares the callback as bool (*)() (no
// prototype, which C++ cannot convert to); 16+ casts it in a macro.
#if PG_VERSION_NUM < 160000
#define SG_WALKER(fn) reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(fn))
#else
#define SG_WALKER(fn) (fn)
#endif
#if PG_VERSION_NUM < 160000
#define SG_MUTATOR(fn) reinterpret_cast<Node *(*)()>(reinterpret_cast<void (*)()>(fn))
#else
#define SG_MUTATOR(fn) (fn)
#endif
