# rpgnet build. Switches, Darknet-style:
#   GPU=1                  build the CUDA backend too (nvcc from /usr/local/cuda)
#   DEBUG=1                -O0 -g, objects in build/debug
#   SANITIZE=address,undefined   sanitizer build, objects in build/san
#   ARCH=...               code generation flags (default -march=native)
# Main targets: all (library + build/rpgnet), test, demo, deps, clean.

GPU      ?= 0
DEBUG    ?= 0
SANITIZE ?=
ARCH     ?= -march=native
CXX      ?= g++
CC       ?= gcc
NVCC     ?= /usr/local/cuda/bin/nvcc

VERSION  := 0.1.0
SOMAJOR  := 0

ifneq ($(SANITIZE),)
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

CXXFLAGS := -std=c++17 $(OPT) -fPIC -fopenmp -Wall -Wextra -Isrc -Icapi -isystem /usr/include/stb -MMD -MP
CFLAGS   := -std=c99 $(OPT) -Wall -Wextra -Icapi
LDLIBS   := -lopenblas -lstb -lz -lpthread -fopenmp $(LDSAN)

ifeq ($(GPU),1)
  CXXFLAGS += -DRPG_GPU -I/usr/local/cuda/include
  LDLIBS   += -L/usr/local/cuda/lib64 -lcudart -lcublas -Wl,-rpath,/usr/local/cuda/lib64
endif

LIB_SRC  := $(shell find src -name '*.cc' -not -path 'src/cli/*' | sort)
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
DEPS_PKGS := g++ make libopenblas-dev libboost-test-dev zlib1g-dev libstb-dev dataset-fashion-mnist

.PHONY: all deps test demo bench clean lib cli tests
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

$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) -std=c++17 -O3 -Isrc -Xcompiler -fPIC,-Wall -gencode arch=compute_90,code=sm_90 \
	  -gencode arch=compute_90,code=compute_90 -c $< -o $@

$(STATIC): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SHARED): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CXX) -shared -Wl,-soname,librpgnet.so.$(SOMAJOR) -o $@ $^ $(LDLIBS)
	ln -sf librpgnet.so.$(VERSION) $(BUILD)/librpgnet.so.$(SOMAJOR)
	ln -sf librpgnet.so.$(VERSION) $(BUILD)/librpgnet.so

$(CLI): $(CLI_OBJ) $(STATIC)
	$(CXX) -o $@ $(CLI_OBJ) $(STATIC) $(LDLIBS)

$(BUILD)/tests/%: tests/%.cc $(STATIC)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -Itests -DBOOST_TEST_DYN_LINK -o $@ $< $(STATIC) $(LDLIBS) -lboost_unit_test_framework

# The whole suite: unit tests, the malformed-cfg corpus (also under ASan/UBSan), CLI checks.
test: deps
	@$(MAKE) --no-print-directory lib cli tests
	@$(MAKE) --no-print-directory SANITIZE=address,undefined build/san/rpgnet build/san/tests/test_cfg
	@tests/run_tests.sh $(BUILD)

# Builds, then runs the main job on the embedded default: trains fashion-resnet on
# Fashion-MNIST and prints its test accuracy, parameter count and time.
demo: deps
	@$(MAKE) --no-print-directory lib cli
	$(CLI) classifier train cfg/fashion.data cfg/fashion-resnet.cfg

# Benchmarks (never part of make test): results go to tests/bench/RESULTS.md.
bench: deps
	@$(MAKE) --no-print-directory lib $(BUILD)/bench/train_step
	tests/bench/run.sh $(BUILD)

$(BUILD)/bench/%: tests/bench/%.cc $(STATIC)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -o $@ $< $(STATIC) $(LDLIBS)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
