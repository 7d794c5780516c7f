# rpgnet build. Switches, Darknet-style:
#   GPU=1                  build the CUDA backend too (nvcc from /usr/local/cuda)
#   DEBUG=1                -O0 -g, objects in build/debug
#   SANITIZE=address,undefined   sanitizer build, objects in build/san (SANITIZE=thread: build/tsan)
#   ARCH=...               code generation flags (default -march=native)
#   MPI=1                  data-parallel training over MPI (default: 1 when mpicxx is found;
#                          MPI=0 builds without it; README "Scaling out")
#   PREFIX=...             where `make install` puts the library, its header, rpgnet.pc and the
#                          Java, Go and C# bindings (Debian's layout; see README "Installing")
# Main targets: all (library + build/rpgnet), test, demo, install, fuzz, bindings, deps, clean,
# bench, bench-mpi.

GPU      ?= 0
DEBUG    ?= 0
SANITIZE ?=
ARCH     ?= -march=native
CXX      ?= g++
CC       ?= gcc
NVCC     ?= /usr/local/cuda/bin/nvcc

VERSION  := 0.1.0
SOMAJOR  := 0

ifeq ($(SANITIZE),thread)
  BUILD   := build/tsan
  OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=thread
  LDSAN   := -fsanitize=thread
else ifneq ($(SANITIZE),)
  BUILD   := build/san
  OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
  LDSAN   := -fsanitize=$(SANITIZE)
else ifeq ($(DEBUG),1)
  BUILD   := build/debug
  OPT     := -O0 -g
else
  BUILD   := build
  OPT     := -O3 $(ARCH)
endif
# GPU objects never mix with CPU ones: build/gpu (build/debug/gpu, ...), so both builds coexist.
ifeq ($(GPU),1)
  BUILD   := $(BUILD)/gpu
endif

CXXFLAGS := -std=c++17 $(OPT) -fPIC -fopenmp -Wall -Wextra -Isrc -Icapi -isystem /usr/include/stb -MMD -MP
CFLAGS   := -std=c99 $(OPT) -Wall -Wextra -Icapi
LDLIBS   := -ldnnl -lopenblas -lstb -lz -lpthread -fopenmp $(LDSAN)

# MPI: only src/train/mpi_comm.cc sees its header; without MPI, src/train/mpi_none.cc stands in.
MPI      ?= $(if $(shell command -v mpicxx 2>/dev/null),1,0)
ifeq ($(MPI),1)
  MPI_CFLAGS := $(shell mpicc --showme:compile) -DOMPI_SKIP_MPICXX=1 -DMPICH_SKIP_MPICXX=1
  MPI_LIBS   := $(shell mpicc --showme:link)
  LDLIBS     += $(MPI_LIBS)
  MPI_SKIP   := src/train/mpi_none.cc
else
  MPI_SKIP   := src/train/mpi_comm.cc
endif

ifeq ($(GPU),1)
  CXXFLAGS += -DRPG_GPU -I/usr/local/cuda/include -Icuda
  LDLIBS   += -L/usr/local/cuda/lib64 -lcudart -lcublas -Wl,-rpath,/usr/local/cuda/lib64
endif
# What a static link of librpgnet.a needs (rpgnet.pc Libs.private). OpenBLAS, zlib and stb go
# here as libraries rather than as Requires.private, which would add their include folders to
# `pkg-config --cflags rpgnet`: the public header needs none of them.
PC_LIBS_PRIVATE = -ldnnl $(shell pkg-config --static --libs openblas zlib stb) -lgomp -lstdc++ -lm -lpthread
ifeq ($(GPU),1)
  PC_LIBS_PRIVATE += -L/usr/local/cuda/lib64 -lcudart -lcublas
endif
PC_LIBS_PRIVATE += $(MPI_LIBS)

# The library: src/ but the command, and the C boundary capi/*.cc.
LIB_SRC  := $(filter-out $(MPI_SKIP),$(shell find src -name '*.cc' -not -path 'src/cli/*' | sort)) $(sort $(wildcard capi/*.cc))
CLI_SRC  := $(wildcard src/cli/*.cc)
LIB_OBJ  := $(LIB_SRC:%.cc=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.cc=$(BUILD)/obj/%.o)
CUDA_SRC := $(wildcard cuda/*.cu)
ifeq ($(GPU),1)
  LIB_OBJ += $(CUDA_SRC:%.cu=$(BUILD)/obj/%.o)
endif

STATIC   := $(BUILD)/librpgnet.a
SHARED   := $(BUILD)/librpgnet.so.$(VERSION)
CLI      := $(BUILD)/rpgnet

TEST_SRC := $(wildcard tests/test_*.cc)
TEST_BIN := $(TEST_SRC:tests/%.cc=$(BUILD)/tests/%)

# Debian packages the build, the tests and the demo need.
DEPS_PKGS := g++ make libdnnl-dev libopenblas-dev libboost-test-dev zlib1g-dev libstb-dev dataset-fashion-mnist \
             swig openjdk-17-jdk-headless junit4 golang-go mono-mcs mono-runtime maven libxml2-utils pkg-config python3 \
             openmpi-bin libopenmpi-dev

.PHONY: all deps test demo bench bench-mpi bench-deps dof-sweep headline export-table int8-bench clean lib cli tests check-gpu-build install \
        install-lib install-bindings capi fuzz fuzz-run bindings bindings-pairs
all: deps
	@$(MAKE) --no-print-directory lib cli

lib: $(STATIC) $(SHARED)
cli: $(CLI)
tests: $(TEST_BIN)

deps:
	@missing=""; for p in $(DEPS_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "deps: missing Debian packages:$$missing"; \
	    echo "      install them with: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# Library code is hidden by default: the shared library exports the rpg_* functions of
# capi/rpgnet.h (RPG_API) and nothing else (capi/rpgnet.map).
$(LIB_OBJ): CXXFLAGS += -fvisibility=hidden -fvisibility-inlines-hidden
$(BUILD)/obj/src/train/mpi_comm.o: CXXFLAGS += $(MPI_CFLAGS)

$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) -std=c++17 -O3 -Isrc -Xcompiler -fPIC,-Wall -gencode arch=compute_90,code=sm_90 \
	  -gencode arch=compute_90,code=compute_90 -MMD -MP -c $< -o $@

$(STATIC): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SHARED): $(LIB_OBJ) capi/rpgnet.map
	@mkdir -p $(dir $@)
	$(CXX) -shared -Wl,-soname,librpgnet.so.$(SOMAJOR) -Wl,--version-script=capi/rpgnet.map -Wl,--no-undefined \
	  -o $@ $(LIB_OBJ) $(LDLIBS)
	ln -sf librpgnet.so.$(VERSION) $(BUILD)/librpgnet.so.$(SOMAJOR)
	ln -sf librpgnet.so.$(VERSION) $(BUILD)/librpgnet.so

$(CLI): $(CLI_OBJ) $(STATIC)
	$(CXX) -o $@ $(CLI_OBJ) $(STATIC) $(LDLIBS)

$(BUILD)/tests/%: tests/%.cc $(STATIC)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -Itests -DBOOST_TEST_DYN_LINK -o $@ $< $(STATIC) $(LDLIBS) -lboost_unit_test_framework

# `make install`: the C library (install-lib: shared and static library, capi/rpgnet.h and
# rpgnet.pc) and the three bindings (install-bindings, below with the bindings).
PREFIX      ?= /usr/local
INSTALL_TOP  = $(abspath $(PREFIX))
install: install-lib install-bindings

install-lib: lib
	install -d $(DESTDIR)$(INSTALL_TOP)/lib/pkgconfig $(DESTDIR)$(INSTALL_TOP)/include
	install -m 644 capi/rpgnet.h $(DESTDIR)$(INSTALL_TOP)/include/rpgnet.h
	install -m 644 $(STATIC) $(DESTDIR)$(INSTALL_TOP)/lib/librpgnet.a
	install -m 755 $(SHARED) $(DESTDIR)$(INSTALL_TOP)/lib/librpgnet.so.$(VERSION)
	ln -sf librpgnet.so.$(VERSION) $(DESTDIR)$(INSTALL_TOP)/lib/librpgnet.so.$(SOMAJOR)
	ln -sf librpgnet.so.$(VERSION) $(DESTDIR)$(INSTALL_TOP)/lib/librpgnet.so
	sed -e 's|@PREFIX@|$(INSTALL_TOP)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS_PRIVATE@|$(PC_LIBS_PRIVATE)|' \
	  capi/rpgnet.pc.in > $(DESTDIR)$(INSTALL_TOP)/lib/pkgconfig/rpgnet.pc

# C API tests (tests/capi/test_*.c) and examples (capi/examples/*.c), strict C99. They link only
# through pkg-config against a copy installed in $(BUILD)/install (test_ring also statically);
# the sanitizer build links CAPI_SAN straight to build/san/librpgnet.so instead.
CAPI_CFLAGS := -std=c99 -Wall -Wextra -Werror -pedantic $(OPT) -pthread
CAPI_SAN    := test_errors test_files test_limits test_reliability test_ring test_threads
ifneq ($(SANITIZE),)
  CAPI_BIN  := $(CAPI_SAN:%=$(BUILD)/capi/%)
  CAPI_DEP   = $(SHARED)
  CAPI_FLAGS = -Icapi
  CAPI_LIBS  = -L$(BUILD) -lrpgnet -Wl,-rpath,$(abspath $(BUILD)) $(LDSAN) -lm
else
  CAPI_BIN  := $(patsubst tests/capi/%.c,$(BUILD)/capi/%,$(wildcard tests/capi/test_*.c)) \
               $(patsubst capi/examples/%.c,$(BUILD)/capi/example_%,$(wildcard capi/examples/*.c)) \
               $(BUILD)/capi/test_ring_static
  CAPI_PC    = PKG_CONFIG_PATH=$(abspath $(BUILD)/install/lib/pkgconfig) pkg-config
  CAPI_DEP   = $(BUILD)/install/lib/pkgconfig/rpgnet.pc
  CAPI_FLAGS = $$($(CAPI_PC) --cflags rpgnet)
  CAPI_LIBS  = $$($(CAPI_PC) --libs rpgnet) -Wl,-rpath,$$($(CAPI_PC) --variable=libdir rpgnet) -lm
endif
capi: $(CAPI_BIN)

$(BUILD)/install/lib/pkgconfig/rpgnet.pc: $(STATIC) $(SHARED) capi/rpgnet.h capi/rpgnet.pc.in
	@$(MAKE) --no-print-directory install-lib PREFIX=$(BUILD)/install DESTDIR=

$(BUILD)/capi/test_ring_static: tests/capi/test_ring.c $(CAPI_DEP)
	@mkdir -p $(dir $@)
	$(CC) $(CAPI_CFLAGS) $(CAPI_FLAGS) -o $@ $< $$($(CAPI_PC) --static --libs rpgnet | sed 's/-lrpgnet /-l:librpgnet.a /')

$(BUILD)/capi/example_%: capi/examples/%.c $(CAPI_DEP)
	@mkdir -p $(dir $@)
	$(CC) $(CAPI_CFLAGS) $(CAPI_FLAGS) -o $@ $< $(CAPI_LIBS)

$(BUILD)/capi/%: tests/capi/%.c $(wildcard tests/capi/*.h) $(CAPI_DEP)
	@mkdir -p $(dir $@)
	$(CC) $(CAPI_CFLAGS) $(CAPI_FLAGS) -o $@ $< $(CAPI_LIBS)

# The whole suite (tests/run_tests.sh): unit tests, CLI checks, the C API's tests and examples;
# SAN_TESTS, the CLI scripts and the C API tests again under ASan/UBSan with leak detection;
# TSAN_TESTS under ThreadSanitizer; the CUDA suite on emulated CUDA (tests/gpu/emulate); the
# bindings' tests and, per binding, a project outside the tree built against `make install`
# (tests/bindings/sample.sh).
SAN_TESTS  := test_cfg test_io test_export test_int8 test_data test_layers test_rpg test_train
TSAN_TESTS := test_concurrency
test: deps
	@$(MAKE) --no-print-directory lib cli tests capi bindings
	@$(MAKE) --no-print-directory check-gpu-build
	@$(MAKE) --no-print-directory SANITIZE=address,undefined build/san/rpgnet $(SAN_TESTS:%=build/san/tests/%) capi
	@$(MAKE) --no-print-directory SANITIZE=thread $(TSAN_TESTS:%=build/tsan/tests/%)
	@tests/run_tests.sh $(BUILD)

# Java, Go and C# bindings, generated by SWIG from bindings/rpgnet.i (the one interface file).
# Java: $(BIND)/java/rpgnet.jar (org.rpgnet) + librpgnet_jni.so; Go: the module rpgnet.org/rpgnet
# in bindings/go, whose package raw (bindings/go/raw, ignored by git) SWIG writes here, never go
# build; C#: $(BIND)/csharp/RpgNet.dll + librpgnet_cs.so (mcs, mono; bindings/csharp/RpgNet.csproj
# is the same for dotnet). In the tree they link build/'s library; install-bindings links them
# again against the installed one. Tests: tests/run_tests.sh.
BIND       := $(BUILD)/bindings
GO_RAW     := bindings/go/raw
JAVA_HOME  ?= $(patsubst %/bin/javac,%,$(realpath $(shell command -v javac 2>/dev/null)))
BIND_CC    := $(CC) -shared -fPIC -O2 -Wall -Werror
BIND_LIBS  := -L$(BUILD) -lrpgnet -Wl,-rpath,$(abspath $(BUILD))
BIND_DEPS  := bindings/rpgnet.i capi/rpgnet.h $(SHARED)
JUNIT_CP   := /usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar
# cgo reads `#cgo pkg-config: rpgnet` (bindings/rpgnet.i): in the tree, the copy in $(BUILD)/install.
GO_PC      := $(BUILD)/install/lib/pkgconfig/rpgnet.pc
GO_ENV     := PKG_CONFIG_PATH=$(abspath $(dir $(GO_PC))) CGO_LDFLAGS="-Wl,-rpath,$(abspath $(BUILD)/install/lib)"

bindings: $(BIND)/java/rpgnet.jar $(BIND)/go/built $(BIND)/csharp/RpgNetTests.exe

# Multi-argument typemaps match by argument names: every (buffer, length) pair of the header
# must be listed in bindings/rpgnet.i, or a new function would get raw pointers silently.
bindings-pairs:
	@tr '\n' ' ' < capi/rpgnet.h | grep -oE '(const )?(float|void)\* [a-z_]+, +(int64_t|size_t) [a-z_]+' | \
	  sed 's/  */ /g' | sort -u | while read -r pair; do \
	    grep -qF "($$pair)" bindings/rpgnet.i || { echo "bindings/rpgnet.i: add ($$pair) to its %apply lists"; exit 1; }; \
	  done

$(BIND)/java/rpgnet.jar: $(BIND_DEPS) $(wildcard bindings/java/src/org/rpgnet/*.java bindings/java/test/org/rpgnet/*.java) | bindings-pairs
	@rm -rf $(BIND)/java && mkdir -p $(BIND)/java/gen/org/rpgnet $(BIND)/java/classes $(BIND)/java/test-classes
	swig -java -package org.rpgnet -Icapi -outdir $(BIND)/java/gen/org/rpgnet -o $(BIND)/java/rpgnet_wrap.c bindings/rpgnet.i
	$(BIND_CC) -Icapi -I$(JAVA_HOME)/include -I$(JAVA_HOME)/include/linux -o $(BIND)/java/librpgnet_jni.so $(BIND)/java/rpgnet_wrap.c $(BIND_LIBS)
	javac -Xlint:all -Werror -d $(BIND)/java/classes $(BIND)/java/gen/org/rpgnet/*.java bindings/java/src/org/rpgnet/*.java
	jar cf $@.tmp -C $(BIND)/java/classes . && mv $@.tmp $@
	javac -Xlint:all -d $(BIND)/java/test-classes -cp $@:$(JUNIT_CP) bindings/java/test/org/rpgnet/*.java

$(GO_RAW)/RpgNative.go: bindings/rpgnet.i capi/rpgnet.h | bindings-pairs
	@rm -rf $(GO_RAW) && mkdir -p $(GO_RAW)
	swig -go -cgo -intgosize 64 -package raw -Icapi -outdir $(GO_RAW) -o $(GO_RAW)/rpgnet_wrap.c bindings/rpgnet.i

$(BIND)/go/built: $(GO_RAW)/RpgNative.go $(GO_PC) $(wildcard bindings/go/*.go bindings/go/example/*.go) bindings/go/go.mod
	cd bindings/go && $(GO_ENV) go vet . ./example && $(GO_ENV) go build ./...
	@mkdir -p $(dir $@) && touch $@

$(BIND)/csharp/RpgNetTests.exe: $(BIND_DEPS) $(wildcard bindings/csharp/*.cs) | bindings-pairs
	@rm -rf $(BIND)/csharp && mkdir -p $(BIND)/csharp/gen
	swig -csharp -namespace RpgNet -dllimport rpgnet_cs -Icapi -outdir $(BIND)/csharp/gen -o $(BIND)/csharp/rpgnet_wrap.c bindings/rpgnet.i
	$(BIND_CC) -Icapi -o $(BIND)/csharp/librpgnet_cs.so $(BIND)/csharp/rpgnet_wrap.c $(BIND_LIBS)
	mcs -nologo -warnaserror -unsafe -target:library -out:$(BIND)/csharp/RpgNet.dll $(BIND)/csharp/gen/*.cs bindings/csharp/RpgNet.cs
	mcs -nologo -warnaserror -r:$(BIND)/csharp/RpgNet.dll -out:$@ bindings/csharp/TestRunner.cs
	mcs -nologo -warnaserror -r:$(BIND)/csharp/RpgNet.dll -out:$(BIND)/csharp/CallbackTests.exe bindings/csharp/CallbackTests.cs

# install-bindings: the three bindings under PREFIX in Debian's layout, their native parts linked
# again, through the installed rpgnet.pc, against the installed librpgnet.so.0 (with a run path
# to PREFIX/lib unless PREFIX is /usr):
#   Java  share/java/rpgnet-$(VERSION).jar (and rpgnet.jar), lib/jni/librpgnet_jni.so, and the
#         pom in share/maven-repo/org/rpgnet/rpgnet/$(VERSION)/ (next to a link to the jar)
#   Go    the module rpgnet.org/rpgnet in share/gocode/src/rpgnet.org/rpgnet, with its package raw
#   C#    lib/cli/rpgnet/: RpgNet.dll, librpgnet_cs.so and RpgNet.nuspec (`nuget pack` it there)
DEST          = $(DESTDIR)$(INSTALL_TOP)
INSTALL_PC    = PKG_CONFIG_SYSROOT_DIR=$(DESTDIR) PKG_CONFIG_PATH=$(DEST)/lib/pkgconfig pkg-config
INSTALL_RPATH = $(if $(filter /usr,$(INSTALL_TOP)),,-Wl,-rpath,$(INSTALL_TOP)/lib)
MAVEN_DIR     = share/maven-repo/org/rpgnet/rpgnet/$(VERSION)
GO_MODULE_DIR = share/gocode/src/rpgnet.org/rpgnet
GO_MODULE_SRC = bindings/go/go.mod $(filter-out %_test.go,$(wildcard bindings/go/*.go))
CLI_DIR       = lib/cli/rpgnet
install-bindings: install-lib bindings
	install -d $(DEST)/share/java $(DEST)/lib/jni $(DEST)/$(MAVEN_DIR) $(DEST)/$(GO_MODULE_DIR)/raw $(DEST)/$(CLI_DIR)
	install -m 644 $(BIND)/java/rpgnet.jar $(DEST)/share/java/rpgnet-$(VERSION).jar
	ln -sf rpgnet-$(VERSION).jar $(DEST)/share/java/rpgnet.jar
	sed 's|@VERSION@|$(VERSION)|' bindings/java/pom.xml.in > $(DEST)/$(MAVEN_DIR)/rpgnet-$(VERSION).pom
	ln -sf ../../../../../java/rpgnet-$(VERSION).jar $(DEST)/$(MAVEN_DIR)/rpgnet-$(VERSION).jar
	$(BIND_CC) -I$(JAVA_HOME)/include -I$(JAVA_HOME)/include/linux $$($(INSTALL_PC) --cflags rpgnet) \
	  -o $(DEST)/lib/jni/librpgnet_jni.so $(BIND)/java/rpgnet_wrap.c $$($(INSTALL_PC) --libs rpgnet) $(INSTALL_RPATH)
	install -m 644 $(GO_MODULE_SRC) $(DEST)/$(GO_MODULE_DIR)
	install -m 644 $(GO_RAW)/RpgNative.go $(GO_RAW)/rpgnet_wrap.c $(DEST)/$(GO_MODULE_DIR)/raw
	install -m 644 $(BIND)/csharp/RpgNet.dll $(DEST)/$(CLI_DIR)/RpgNet.dll
	$(BIND_CC) $$($(INSTALL_PC) --cflags rpgnet) -o $(DEST)/$(CLI_DIR)/librpgnet_cs.so \
	  $(BIND)/csharp/rpgnet_wrap.c $$($(INSTALL_PC) --libs rpgnet) $(INSTALL_RPATH)
	sed 's|@VERSION@|$(VERSION)|' bindings/csharp/RpgNet.nuspec.in > $(DEST)/$(CLI_DIR)/RpgNet.nuspec

# The GPU build must at least compile and link wherever the CUDA toolkit is installed (CI has
# no GPU: build/gpu/tests/test_cuda then reports its tests as skipped). Its own build dir.
check-gpu-build:
	@if [ -x "$(NVCC)" ]; then \
	  $(MAKE) --no-print-directory GPU=1 lib cli build/gpu/tests/test_cuda; \
	else \
	  echo "check-gpu-build: skipped: no CUDA compiler at $(NVCC)"; \
	fi

# Builds, then runs the main job on the embedded default: trains fashion-resnet on
# Fashion-MNIST and prints its test accuracy, parameter count and time.
demo: deps
	@$(MAKE) --no-print-directory lib cli
	$(CLI) classifier train cfg/fashion.data cfg/fashion-resnet.cfg

# Benchmarks and accuracy studies (never part of make test). `make bench`: tests/bench/RESULTS.md
# (rpgnet's own step timings, then rpgnet against PyTorch side by side; needs `make bench-deps`).
# `make dof-sweep`: tests/bench/DOF.md and dof.png (accuracy against DoF at one epoch, RPG
# against narrower networks), then `make headline`'s HEADLINE.md and convergence.png (issue 19;
# both resumable, about four hours on two cores). `make export-table`: tests/bench/EXPORT.md.
# `make int8-bench`: its int8 section.
BENCH_PKGS := python3-torch libjemalloc2 gnuplot-nox
bench-deps:
	@$(MAKE) --no-print-directory deps DEPS_PKGS="$(DEPS_PKGS) $(BENCH_PKGS)"

BENCH_REPS ?= 3
bench: bench-deps
	@$(MAKE) --no-print-directory lib $(BUILD)/bench/train_step $(BUILD)/bench/measure $(BUILD)/bench/ops
	tests/bench/run.sh $(BUILD) $(BENCH_REPS)

# `make bench-mpi`: data-parallel training's traffic per update and its step time at np=1 and
# np=2 (tests/bench/mpi.sh; the section "Data-parallel training over MPI" of RESULTS.md).
bench-mpi: deps
	@$(MAKE) --no-print-directory lib cli
	tests/bench/mpi.sh $(BUILD) $(BENCH_REPS)

dof-sweep: bench-deps
	@$(MAKE) --no-print-directory all
	tests/bench/dof_sweep.sh $(BUILD)
	tests/bench/headline.sh $(BUILD)

# `make headline`: tests/bench/HEADLINE.md and convergence.png (issue 19: RPG at dof 0.1 and 0.01
# against the plain and the same-DoF narrow networks at the demo's budget, three seeds; about
# an hour and three quarters on two cores; resumable, results in tests/bench/headline-runs).
headline: bench-deps
	@$(MAKE) --no-print-directory all
	tests/bench/headline.sh $(BUILD)

export-table: deps
	@$(MAKE) --no-print-directory all
	tests/bench/export_table.sh $(BUILD)

# `make int8-bench`: the int8 section of tests/bench/EXPORT.md (issue 17: top-1 and inference
# speed of fashion-resnet-rpg in int8 against float32 on 1 and 2 threads, kernels, a profile;
# trains the model first unless CKPT=path; about 25 minutes on two cores; needs a quiet machine).
int8-bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/infer_export
	tests/bench/int8.sh $(BUILD)

$(BUILD)/bench/%: tests/bench/%.cc tests/bench/bench_util.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -o $@ $< $(STATIC) $(LDLIBS)

# Fuzz targets (libFuzzer via clang, ASan + UBSan): the export, checkpoint and .weights loaders,
# the cfg parser with network construction, the .data parser, list files and IDX files.
# `make fuzz` builds build/fuzz/fuzz_<target> and a seed corpus in build/fuzz/corpus/<target>;
# `make fuzz-run FUZZ_SECONDS=600` runs every target in turn (tests/fuzz/run.sh); or run e.g.
#   build/fuzz/fuzz_export build/fuzz/corpus/export -max_total_time=600
# Its Debian packages are checked (installed as root) only here, not by `make deps`.
FUZZ_PKGS    := clang libclang-rt-14-dev libomp-dev
FUZZ_CXX     ?= clang++
FUZZ_FLAGS   := -std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fopenmp -Isrc -Itests -isystem /usr/include/stb -MMD -MP
FUZZ_LIB_OBJ := $(patsubst %.cc,build/fuzz/obj/%.o,$(filter-out src/train/mpi_comm.cc,$(shell find src -name '*.cc' -not -path 'src/cli/*' | sort)))
FUZZ_LIBS    := -ldnnl -lopenblas -lstb -lz -lpthread
FUZZ_TARGETS := export checkpoint weights cfg data list idx

fuzz:
	@$(MAKE) --no-print-directory deps DEPS_PKGS="$(FUZZ_PKGS)"
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=build/fuzz/fuzz_%) build/fuzz/make_corpus
	build/fuzz/make_corpus build/fuzz/corpus

fuzz-run: fuzz
	tests/fuzz/run.sh $(FUZZ_SECONDS)

FUZZ_SECONDS ?= 600

build/fuzz/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.cc tests/fuzz/fuzz_nets.h $(FUZZ_LIB_OBJ)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) $(FUZZ_LIBS)

build/fuzz/make_corpus: tests/fuzz/make_corpus.cc tests/fuzz/fuzz_nets.h $(FUZZ_LIB_OBJ)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_LIB_OBJ) $(FUZZ_LIBS)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
