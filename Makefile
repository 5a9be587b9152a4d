# The commands a user types.  Everything real lives in CMake and scripts/.
#   make run    install what is missing, build, start the all-in-one with an example
#               (LISTEN=ADDR:PORT for another address than 127.0.0.1:8080)
#   make test   install, build (normal + ASan/UBSan), run every test on both builds
#   make test-load  the same RUNS times (default 3) with every core kept busy
#   make build  build build/cmon
#   make bench  run bench/ against peer tools and print ratios
#   make fuzz   run each libFuzzer target (or FUZZ_TARGETS=a,b) for FUZZ_SECONDS (default 60)
#   make install  install cmon, its man page and systemd units (PREFIX, DESTDIR)
#   make deb    build the Debian package dist/cmon_VERSION_ARCH.deb
#   make clean  remove build directories
JOBS ?= $(shell nproc)
# integration tests mostly wait on rounds, so ctest runs more of them than cores
CTEST_JOBS ?= $(shell echo $$(( $$(nproc) * 3 )))
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
CTEST_ARGS ?=
PREFIX ?= /usr/local

.PHONY: all build build-asan deps test-deps run test test-load test-unit bench fuzz install deb clean

all: build

deps:
	@scripts/install-deps.sh --build

test-deps:
	@scripts/install-deps.sh --all

build: deps
	@cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS)

build-asan: deps
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMON_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

# LISTEN=ADDR:PORT serves another address (a non-loopback one needs a token first)
LISTEN ?=
run: build
	./build/cmon run $(if $(LISTEN),--listen $(LISTEN)) docs/examples/local.json

# Both builds always run; the exit status is non-zero if either failed, and the
# last lines are ctest's own summary of the sanitizer build.
test: test-deps build build-asan
	@echo "== ctest: normal build (-O2 -Wall -Wextra -Werror)"
	@cd build && ctest --output-on-failure -j $(CTEST_JOBS) $(CTEST_ARGS); rc1=$$?; \
	 echo "== normal build: ctest exit $$rc1"; \
	 echo "== ctest: ASan+UBSan build"; \
	 cd ../build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	   ctest --output-on-failure -j $(CTEST_JOBS) $(CTEST_ARGS); rc2=$$?; \
	 test $$rc1 -eq 0 -a $$rc2 -eq 0

# CI shares 2 cores: a test that passes only on an idle machine is flaky
RUNS ?= 3
test-load: test-deps build build-asan
	@scripts/test-under-load.sh $(RUNS)

test-unit: build
	@cd build && ctest --output-on-failure -L unit

bench: test-deps build
	@bench/run-all.sh build/cmon

# FUZZ_TARGETS=time,spool runs a subset; see tests/fuzz/run-fuzz.sh.
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_TARGETS=$(FUZZ_TARGETS) JOBS=$(JOBS) tests/fuzz/run-fuzz.sh

install: build
	@DESTDIR=$(DESTDIR) cmake --install build --prefix $(PREFIX)

deb: build
	@scripts/build-deb.sh build dist

clean:
	rm -rf build build-asan build-fuzz dist
