# TaskFlow: PGXS build of the extension, plus the top-level developer targets.
#   make && make install   build and install taskflow.so, taskflow.control and the SQL script
#   make test              everything (installs missing Debian packages, builds, runs all suites)
#   make lint              the boundary rules (test/lint.sh; also part of make test)
#   make installcheck      the pgTAP suites against an installed server (libpq environment)
#   make version           the release version (default_version in taskflow.control)
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

# Installed: the current install script (built from sql/src), the upgrade script to it from the
# previous release (built from sql/updates/ and sql/src, below), and what past releases shipped
# (sql/releases/, never edited: their install scripts and upgrade scripts), so CREATE EXTENSION
# taskflow VERSION 'old' and ALTER EXTENSION taskflow UPDATE both work (docs/releasing.md).
UPGRADES    = $(patsubst sql/updates/%,sql/%,$(wildcard sql/updates/$(EXTENSION)--*--$(EXTVERSION).sql))
DATA_built  = sql/$(EXTENSION)--$(EXTVERSION).sql $(UPGRADES)
DATA        = $(filter-out %/$(EXTENSION)--$(EXTVERSION).sql,$(wildcard sql/releases/$(EXTENSION)--*.sql))
# The router (docs/scale-out.md): a second extension, SQL only, for a PL/Proxy router database.
# Its install script is built (below) from router/src/ and sql/src; its upgrade scripts, once it
# has shipped, are hand-written (docs/releasing.md, "The router's install script").
ROUTER_VERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" router/taskflow_router.control)
ROUTER_SCRIPT  = router/taskflow_router--$(ROUTER_VERSION).sql
DATA_built += $(ROUTER_SCRIPT)
DATA       += router/taskflow_router.control \
              $(filter-out $(ROUTER_SCRIPT),$(wildcard router/taskflow_router--*.sql))
EXTRA_CLEAN = $(DATA_built) extension/generated

PG_CPPFLAGS = -Iextension
PG_CXXFLAGS = -std=c++17 -fPIC -Wall -Wextra -Werror -Wno-register -Wno-missing-field-initializers
SHLIB_LINK  = -lstdc++

# `make installcheck` is ours (scripts/installcheck.sh: pgTAP through pg_prove), not pg_regress.
NO_INSTALLCHECK = 1

# No LLVM bitcode for C++ sources (PGXS would try to build .bc files with clang).
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PostgreSQL's headers are system headers: their warnings are theirs, so ours (-Wall -Wextra)
# stay readable and can be kept at zero in every part (core, pg, api, bgw).
override CPPFLAGS := $(patsubst -I$(includedir_server),-isystem $(includedir_server),$(patsubst -I$(includedir_internal),-isystem $(includedir_internal),$(CPPFLAGS)))

$(OBJS): $(TF_HEADERS)

# The git commit the library is built from (taskflow_build_info{revision} in taskflow.metrics()).
# The script runs on every make but rewrites the header only when the commit changes, so an
# up-to-date build stays up to date; outside a git checkout it says "unknown".
extension/api/build_info.o: extension/generated/build_commit.h
extension/generated/build_commit.h: FORCE
	@sh scripts/build_commit.sh $@ .
.PHONY: FORCE
FORCE:

# One SQL source tree, concatenated in order into the versioned install script.
sql/$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard sql/src/*.sql)) $(EXTENSION).control
	cat $(sort $(wildcard sql/src/*.sql)) > $@

# The upgrade script from release P: the hand-written part (sql/updates/) with, at its
# `-- @generated` line, every definition of sql/src that differs from P's frozen install script
# and sql/src's comments, grants and settings (scripts/upgrade_script.py).
sql/$(EXTENSION)--%--$(EXTVERSION).sql: sql/updates/$(EXTENSION)--%--$(EXTVERSION).sql \
    sql/releases/$(EXTENSION)--%.sql $(sort $(wildcard sql/src/*.sql)) scripts/upgrade_script.py
	python3 scripts/upgrade_script.py $< sql/releases/$(EXTENSION)--$*.sql \
	  $(sort $(wildcard sql/src/*.sql)) > $@.tmp
	mv $@.tmp $@

# The router's install script: its hand-written part with, at each `-- @proxied SECTION` line,
# the client API functions router/src/proxied.txt lists there, declared with the shard's own
# arguments and return type as sql/src defines them (scripts/router_script.py).
$(ROUTER_SCRIPT): router/src/taskflow_router.sql router/src/proxied.txt scripts/router_script.py \
    $(sort $(wildcard sql/src/*.sql)) router/taskflow_router.control
	python3 scripts/router_script.py router/src/taskflow_router.sql router/src/proxied.txt \
	  $(sort $(wildcard sql/src/*.sql)) > $@.tmp
	mv $@.tmp $@

.PHONY: test run bench deps installcheck version lint format
version:
	@echo $(EXTVERSION)
# The pgTAP suites (test/sql) against the server the libpq environment (PGHOST, PGPORT, PGUSER)
# names, in a scratch database INSTALLCHECK_DB (created, dropped afterwards) where taskflow and
# pgtap are installed: the PGXS convention (pg_regress's contrib_regression), with pg_prove.
INSTALLCHECK_DB ?= taskflow_installcheck
installcheck:
	bash scripts/installcheck.sh $(INSTALLCHECK_DB)
deps:
	bash test/deps.sh
test:
	bash test/run.sh
lint:
	PG_CONFIG=$(PG_CONFIG) bash test/lint.sh
format:
	find extension worker bench cli test/core -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' \) \
	  -not -path 'extension/generated/*' | xargs clang-format -i
run:
	bash scripts/run.sh
bench:
	bash bench/run.sh $(BENCH_ARGS)
