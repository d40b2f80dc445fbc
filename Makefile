# mod_issuetracker -- an issue tracker REST API inside Apache httpd.
#
#   make run     install what is missing, build, start PostgreSQL + httpd on
#                127.0.0.1:$(PORT) (default 8080), print how to call the API
#   make stop    stop what `make run` started
#   make test    build, unit tests, integration tests on a throw-away stack
#   make bench   benchmarks against ceilings measured in the same run

APXS      ?= apxs
PYTHON    ?= /usr/bin/python3
PORT      ?= 8080
VAR       ?= $(CURDIR)/var
BUILD     ?= $(CURDIR)/build

SRC_DIR   := mod_issuetracker
CORE_SRC  := $(filter-out $(SRC_DIR)/mod_issuetracker.c $(SRC_DIR)/it_http.c \
               $(SRC_DIR)/it_config.c, $(wildcard $(SRC_DIR)/it_*.c))
GLUE_SRC  := $(SRC_DIR)/mod_issuetracker.c $(SRC_DIR)/it_http.c $(SRC_DIR)/it_config.c
HEADERS   := $(wildcard $(SRC_DIR)/*.h)
MODULE    := $(SRC_DIR)/.libs/mod_issuetracker.so

WARN      := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wformat=2 -Werror
APR_INC   := $(shell apr-1-config --includes 2>/dev/null) $(shell apu-1-config --includes 2>/dev/null)
HTTPD_INC := -I$(shell $(APXS) -q INCLUDEDIR 2>/dev/null)
DEP_CFLAGS:= $(shell pkg-config --cflags jansson libpq uuid libjwt 2>/dev/null)
DEP_LIBS  := $(shell pkg-config --libs jansson libpq uuid libjwt libcrypto 2>/dev/null)
APR_LIBS  := $(shell apr-1-config --link-ld 2>/dev/null) $(shell apu-1-config --link-ld 2>/dev/null)

CFLAGS_CORE := -std=gnu11 -g -O2 -fPIC $(WARN) -D_GNU_SOURCE -DLINUX -D_REENTRANT \
               $(APR_INC) $(HTTPD_INC) $(DEP_CFLAGS) -I$(SRC_DIR)

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(wildcard tests/unit/test_*.c))

.PHONY: all build module docs deps run stop test unit integration lint-openapi permissions-doc \
        bench install fuzz clean distclean

all: build

build: module

deps:
	@./scripts/deps

module: $(MODULE)

$(MODULE): $(CORE_SRC) $(GLUE_SRC) $(HEADERS) Makefile
	@mkdir -p $(BUILD)
	@cd $(SRC_DIR) && flock $(BUILD)/.apxs.lock $(APXS) -c -o mod_issuetracker.la \
	    -Wc,-std=gnu11 $(foreach w,$(WARN),-Wc,$(w)) $(DEP_CFLAGS) \
	    $(notdir $(GLUE_SRC) $(CORE_SRC)) $(DEP_LIBS) > .build.log 2>&1 \
	    || { cat .build.log; exit 1; }
	@echo "built $(MODULE)"

docs: $(BUILD)/docs/openapi.json

$(BUILD)/docs/openapi.json: docs/openapi.yaml package.json package-lock.json $(wildcard docs/site/*)
	./scripts/docs-build $(BUILD)/docs

lint-openapi:
	./scripts/docs-lint

# ---- unit tests (cmocka): the core linked without httpd -------------------
$(BUILD)/unit/%: tests/unit/%.c $(CORE_SRC) $(HEADERS) tests/unit/stub_httpd.c tests/unit/it_test.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CORE) -Itests/unit -o $@ $< $(CORE_SRC) \
	    $(if $(findstring test_config,$@),$(SRC_DIR)/it_config.c tests/unit/stub_httpd.c) \
	    $(DEP_LIBS) $(APR_LIBS) -lcmocka

# docs/permissions.md is generated from the permission table in it_auth.c
permissions-doc: $(BUILD)/unit/test_auth
	$(BUILD)/unit/test_auth --print > docs/permissions.md

unit: $(UNIT_TESTS)
	@./scripts/run-unit $(UNIT_TESTS)

integration: build docs
	./scripts/test-integration

test: deps
	$(MAKE) build docs lint-openapi
	$(MAKE) unit
	$(MAKE) integration

run: deps
	$(MAKE) build docs
	PORT=$(PORT) IT_VAR=$(VAR) ./scripts/devenv start

stop:
	IT_VAR=$(VAR) ./scripts/devenv stop

bench: deps
	$(MAKE) build docs
	./scripts/bench

install: build docs
	$(APXS) -i -n issuetracker $(MODULE)
	install -d /etc/apache2/mods-available /usr/share/mod_issuetracker
	install -m 644 conf/issuetracker.load conf/issuetracker.conf /etc/apache2/mods-available/
	cp -r sql $(BUILD)/docs /usr/share/mod_issuetracker/
	install -m 755 scripts/migrate /usr/share/mod_issuetracker/

clean:
	rm -rf $(BUILD) $(SRC_DIR)/.libs $(SRC_DIR)/*.la $(SRC_DIR)/*.lo $(SRC_DIR)/*.slo $(SRC_DIR)/*.o

distclean: clean
	rm -rf node_modules
