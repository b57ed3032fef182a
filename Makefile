# TaskFlow: PGXS build of the extension, plus the top-level developer targets.
#   make && make install   build and install taskflow.so, taskflow.control and the SQL script
#   make test              everything (installs missing Debian packages, builds, runs all suites)
#   make run               local PostgreSQL + extension + worker + sample jobs (see README)
#   make bench             benchmarks on a throwaway cluster (see docs/benchmarks.md)

EXTENSION   = taskflow
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)
MODULE_big  = taskflow

# extension/core is pure C++17 (also built by CMake for its unit tests);
# pg/ is the boundary, api/ the SQL entry points, bgw/ the background workers.
SRCS = $(sort $(wildcard extension/core/*.cpp)) \
       $(sort $(wildcard extension/pg/*.cpp)) \
       $(sort $(wildcard extension/api/*.cpp)) \
       $(sort $(wildcard extension/bgw/*.cpp))
OBJS = $(SRCS:.cpp=.o)
TF_HEADERS = $(wildcard extension/*/*.hpp)

DATA_built  = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA        = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*--*.sql))
# The router (docs/scale-out.md): a second extension, SQL only, for a PL/Proxy router database.
DATA       += router/taskflow_router.control $(wildcard router/taskflow_router--*.sql)
EXTRA_CLEAN = sql/$(EXTENSION)--$(EXTVERSION).sql

PG_CPPFLAGS = -Iextension
PG_CXXFLAGS = -std=c++17 -fPIC -Wno-register -Wno-missing-field-initializers
SHLIB_LINK  = -lstdc++

# No LLVM bitcode for C++ sources (PGXS would try to build .bc files with clang).
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): $(TF_HEADERS)

# One SQL source tree, concatenated in order into the versioned install script.
sql/$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard sql/src/*.sql)) $(EXTENSION).control
	cat $(sort $(wildcard sql/src/*.sql)) > $@

.PHONY: test run bench deps
deps:
	bash test/deps.sh
test:
	bash test/run.sh
run:
	bash scripts/run.sh
bench:
	bash bench/run.sh $(BENCH_ARGS)
