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
DEP_CFLAGS:= $(shell pkg-config --cflags jansson libpq uuid libjwt libmagic libcrypto 2>/dev/null)
DEP_LIBS  := $(shell pkg-config --libs jansson libpq uuid libjwt libcrypto libmagic 2>/dev/null)
APR_LIBS  := $(shell apr-1-config --link-ld 2>/dev/null) $(shell apu-1-config --link-ld 2>/dev/null)
# Debian's libcsv-dev ships no pkg-config file
CSV_LIBS  := -lcsv

CFLAGS_CORE := -std=gnu11 -g -O2 -fPIC $(WARN) -D_GNU_SOURCE -DLINUX -D_REENTRANT \
               $(APR_INC) $(HTTPD_INC) $(DEP_CFLAGS) -I$(SRC_DIR)

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(wildcard tests/unit/test_*.c))

.PHONY: all build module docs deps run stop test unit integration lint-openapi permissions-doc \
        bench install fuzz fuzz-csv clean distclean

all: build

build: module

deps:
	@./scripts/deps

module: $(MODULE)

$(MODULE): $(CORE_SRC) $(GLUE_SRC) $(HEADERS) Makefile
	@mkdir -p $(BUILD)
	@cd $(SRC_DIR) && flock $(BUILD)/.apxs.lock $(APXS) -c -o mod_issuetracker.la \
	    -Wc,-std=gnu11 $(foreach w,$(WARN),-Wc,$(w)) $(DEP_CFLAGS) \
	    $(notdir $(GLUE_SRC) $(CORE_SRC)) $(DEP_LIBS) $(CSV_LIBS) > .build.log 2>&1 \
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
	    $(DEP_LIBS) $(CSV_LIBS) $(APR_LIBS) -lcmocka

# ---- fuzzing (libFuzzer): the multipart parser, fed in random chunk sizes --
# `make fuzz` runs it for FUZZ_SECONDS; `make test` runs a short round.
FUZZ_SECONDS      ?= 60
FUZZ_TEST_SECONDS ?= 15
FUZZ_CC           ?= clang
FUZZ_BIN          := $(BUILD)/fuzz/fuzz_multipart

$(FUZZ_BIN): tests/fuzz/fuzz_multipart.c $(SRC_DIR)/it_multipart.c $(SRC_DIR)/it_multipart.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    $(WARN) -D_GNU_SOURCE $(APR_INC) -I$(SRC_DIR) -o $@ \
	    tests/fuzz/fuzz_multipart.c $(SRC_DIR)/it_multipart.c $(APR_LIBS)

fuzz: $(FUZZ_BIN)
	@mkdir -p $(BUILD)/fuzz/corpus_multipart
	@$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
	    -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/ \
	    $(BUILD)/fuzz/corpus_multipart tests/fuzz/corpus_multipart \
	    > $(BUILD)/fuzz/fuzz_multipart.log 2>&1; rc=$$?; \
	    grep -E '^(stat::|#[0-9]+ +DONE|==[0-9]+==|SUMMARY)' $(BUILD)/fuzz/fuzz_multipart.log; \
	    [ $$rc -eq 0 ] || { tail -40 $(BUILD)/fuzz/fuzz_multipart.log; exit $$rc; }

# ---- fuzzing the import's CSV path (libFuzzer): parse + row checks, no DB --
# `make fuzz-csv` runs it for FUZZ_CSV_SECONDS; `make test` runs 10 s.
FUZZ_CSV_SECONDS ?= 60
FUZZ_CSV_BIN     := $(BUILD)/fuzz/fuzz_csv
FUZZ_CSV_SRC     := $(SRC_DIR)/it_csv.c $(SRC_DIR)/it_json.c $(SRC_DIR)/it_problem.c \
                    $(SRC_DIR)/it_router.c

$(FUZZ_CSV_BIN): tests/fuzz/fuzz_csv.c $(FUZZ_CSV_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    $(WARN) -D_GNU_SOURCE $(APR_INC) $(DEP_CFLAGS) -I$(SRC_DIR) -o $@ \
	    tests/fuzz/fuzz_csv.c $(FUZZ_CSV_SRC) -ljansson $(CSV_LIBS) $(APR_LIBS)

fuzz-csv: $(FUZZ_CSV_BIN)
	@mkdir -p $(BUILD)/fuzz/corpus_csv
	@$(FUZZ_CSV_BIN) -max_total_time=$(FUZZ_CSV_SECONDS) -max_len=8192 -timeout=10 \
	    -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/csv- \
	    $(BUILD)/fuzz/corpus_csv tests/fuzz/corpus_csv \
	    > $(BUILD)/fuzz/fuzz_csv.log 2>&1; rc=$$?; \
	    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE|==[0-9]+==|SUMMARY)' \
	        $(BUILD)/fuzz/fuzz_csv.log; \
	    [ $$rc -eq 0 ] || { tail -40 $(BUILD)/fuzz/fuzz_csv.log; exit $$rc; }

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
	$(MAKE) fuzz-csv FUZZ_CSV_SECONDS=10
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_TEST_SECONDS)
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
