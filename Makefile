# schema_guard: PGXS build.  `make`, `make install`, `make installcheck` (against a
# server that preloads the library), `make pgtap` (pg_prove over test/*.sql).
EXTENSION   = schema_guard
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big  = schema_guard
SRCS        = $(sort $(wildcard src/*.cpp src/*/*.cpp))
OBJS        = $(SRCS:.cpp=.o)

DATA_built  = sql/$(EXTENSION)--$(EXTVERSION).sql
# Released versions' install scripts and the upgrade scripts are committed as they are.
DATA        = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql)) \
              $(wildcard $(EXTENSION)--*.control)
# The lint is a client program beside the extension (C++ on libpq), installed next to
# the server binaries; it shares the psql reader with the extension.
LINT         = lint/schema_guard_lint
LINT_SRCS    = lint/schema_guard_lint.cpp lint/throwaway_server.cpp src/script/psql_reader.cpp
SCRIPTS_built = $(LINT)

# pg_regress tests come from the schedule, never from a wildcard over sql/
# (which also holds the install scripts).
REGRESS      = $(shell sed -n 's/^test: *//p' test/schedule)
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)
EXTRA_CLEAN  = results regression.diffs regression.out $(DATA_built) $(LINT)

PG_CONFIG ?= pg_config
PG_CPPFLAGS += -Isrc -DSG_VERSION='"$(EXTVERSION)"'
PG_CXXFLAGS += -std=c++17 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
               -Wno-register -fno-rtti
# PostgreSQL 16 and later add -Wshadow=compatible-local to PGXS's flags; adding it here makes a
# build against 15 (what most runs of the suite use) fail on what the matrix's later majors refuse.
PG_CXXFLAGS += -Wshadow=compatible-local
ifdef ERROR_ON_WARNING
PG_CXXFLAGS += -Werror
endif
SHLIB_LINK  += -lstdc++

# The hook gains nothing from JIT inlining; skip LLVM bitcode for C++ sources.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Header changes rebuild the objects that include them.
override CXXFLAGS += -MMD -MP
-include $(OBJS:.o=.d)
EXTRA_CLEAN += $(OBJS:.o=.d)

$(LINT): $(LINT_SRCS) src/script/psql_reader.hpp
	$(CXX) -std=c++17 -O2 -Wall -Wextra $(if $(ERROR_ON_WARNING),-Werror) -Isrc -I$(shell $(PG_CONFIG) --includedir) \
	  $(LINT_SRCS) -o $@ -L$(shell $(PG_CONFIG) --libdir) -lpq

$(DATA_built): $(sort $(wildcard src/sql/*.sql))
	cat $^ > $@

.PHONY: pgtap schedulecheck
pgtap:
	pg_prove --failures --pset tuples_only=1 test/*.sql

# Every pg_regress file in sql/ (all but the install scripts) must be in the schedule.
schedulecheck:
	@missing=0; for f in sql/*.sql; do n=$$(basename $$f .sql); \
	  case $$n in $(EXTENSION)--*) continue;; esac; \
	  grep -qx "test: $$n" test/schedule || { echo "not in test/schedule: $$n"; missing=1; }; \
	done; exit $$missing

# The files that compile in SG_VERSION follow the control file's default_version.
src/module.o src/glue/sql_functions.o: $(EXTENSION).control
