# bbzip developer commands. `make install` then `make test` is the whole set-up.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Pinned: any looser spec lets pip pull a multi-GB CUDA build of torch.
TORCH := torch==2.13.0
MNIST ?= ../shared/data/mnist
NATURAL ?= ../shared/data/natural

BENCH_SECTIONS := levels coders mnist natural startup pipe zarr photos formats
.PHONY: help install test test-oldest-numpy test-slow fuzz fuzz-cov bench bench-publish lint model model-binary model-natural golden clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'
	@echo "  bench-SECTION one section in a run of its own, into bench-results/SECTION: $(BENCH_SECTIONS)"

$(PY):
	python3 -m venv $(VENV)

install: $(PY)  ## create .venv, install torch (CPU build) and bbzip with its test, fast, jpeg and zarr extras
	$(PIP) install -q --upgrade pip
	TORCH=$(TORCH) sh scripts/install-torch-cpu.sh $(PIP)
	$(PIP) install -q -e '.[test,train,fast,jpeg,zarr]'

test:  ## fast test suite (what CI runs)
	$(PY) -m pytest -q

# The numpy floor pyproject.toml declares ("numpy>=X"), tested as such: its oldest release.
NUMPY_FLOOR := $(shell sed -n 's/^ *"numpy>=\([0-9.]*\)".*/\1/p' pyproject.toml)
OLDEST ?= .venv-oldest
# What CI runs there (every golden file decoded and rewritten, the fixed-point runtime, rANS,
# the coders: about 2 minutes); TESTS=tests runs the whole fast suite.
TESTS ?= tests/test_golden.py tests/test_fixedpoint.py tests/test_rans.py tests/test_coders.py

test-oldest-numpy:  ## the numerical tests on the oldest numpy pyproject.toml allows, in .venv-oldest (no torch)
	test -x $(OLDEST)/bin/python || python3 -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install -q 'numpy==$(NUMPY_FLOOR)' -e '.[test,fast]'
	$(OLDEST)/bin/python -c 'import numpy; assert numpy.__version__ in ("$(NUMPY_FLOOR)", "$(NUMPY_FLOOR).0"), numpy.__version__'
	$(OLDEST)/bin/python -m pytest -q $(TESTS)

test-slow:  ## the slow tests too (full MNIST, large streams)
	$(PY) -m pytest -q -m ''

fuzz:  ## decompressor fuzzing, 10,000 mutated .bbz files (docs/RELIABILITY.md)
	$(PY) -m tests.fuzz.mutate --cases 10000

FUZZ_SECONDS ?= 60
fuzz-cov:  ## coverage-guided fuzzing (atheris) of every parser and coder, FUZZ_SECONDS each
	$(PIP) install -q -e '.[fuzz]'
	for target in $$($(PY) -m tests.fuzz.coverage --list); do \
		$(PY) -m tests.fuzz.coverage $$target -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 || exit 1; \
	done

SECTIONS ?=
BENCH_ARGS ?=
bench:  ## every table in one run, floors checked, into bench-results/ (SECTIONS="photos natural": some; BENCH_ARGS="--quick --photos DIR")
	$(PIP) install -q -e '.[bench]'
	OPENBLAS_NUM_THREADS=1 $(PY) -m bench $(SECTIONS) $(BENCH_ARGS)

# One section in a run of its own, into bench-results/SECTION: make bench-photos, bench-natural,
# bench-formats, bench-levels, bench-mnist, bench-coders, bench-startup, bench-pipe, bench-zarr.
bench-%:
	$(PIP) install -q -e '.[bench]'
	OPENBLAS_NUM_THREADS=1 $(PY) -m bench $* $(BENCH_ARGS)

RESULTS ?= $(sort $(wildcard bench-results/*/bench.json bench-results/bench.json))
bench-publish:  ## the runs in bench-results/ into README Results and docs/bench.md (one run per section; the published runs of other sections stay)
	$(PY) -m bench.publish $(patsubst %/bench.json,%,$(RESULTS))

lint:  ## ruff
	$(PIP) install -q ruff
	$(VENV)/bin/ruff check bbzip tests bench

model:  ## train, freeze and register the MNIST model (about 100 minutes on 2 cores)
	mkdir -p build
	$(VENV)/bin/bbzip train $(MNIST)/train-images-idx3-ubyte.gz --minutes 100 --validation 5000 -f -o build/mnist-vae.npz
	$(PY) -m bbzip.training.register build/mnist-vae.npz --data $(MNIST)

model-binary:  ## train, freeze and register the binarized-MNIST (Bernoulli) model (about 40 minutes)
	mkdir -p build
	$(VENV)/bin/bbzip train $(MNIST)/train-images-idx3-ubyte.gz --binarize --minutes 35 --validation 5000 -f \
		-o build/mnist-binary-vae.npz
	$(PY) -m bbzip.training.register build/mnist-binary-vae.npz --data $(MNIST)

# The shipped natural model, natural-vae-2, is the end of a chain of warm-started runs (docs/MODELS.md):
# natural-vae came from four timed runs on natural/ (39, 18 and 52 minutes at seed 0, then 90 minutes
# at seed 4 with one thread), frozen; natural-vae-2 is natural-vae thawed and fine-tuned for 68 minutes
# on natural/ and photos-train/, frozen. model-natural runs every step from scratch; each step is a file
# of its own under NATURAL_BUILD (written under a .part name and renamed when the step ends), so a chain
# cut short resumes at the step it stopped in. The intermediate natural-vae is frozen into
# NATURAL_BUILD, never over models/natural-vae.npz, which files written with it name.
NATURAL_BUILD ?= build/natural
NATURAL_MODELS ?= models
NATURAL_TRAIN := $(PY) -m bbzip.training.natural_train
NATURAL_FREEZE := $(PY) -m bbzip.natural.freeze

# Step 7, the last: run5 frozen and registered as natural-vae-2 (5-10 minutes; always redone).
model-natural: $(NATURAL_BUILD)/run5.npz  ## rebuild the shipped natural-vae-2 from scratch, the whole chain (docs/MODELS.md): natural-vae's runs of 39, 18, 52 and 90 min and its freeze (5-10 min), the 68-min fine-tune and natural-vae-2's freeze (5-10 min); about 5 hours on 2 cores
	$(NATURAL_FREEZE) $< --data $(NATURAL) --name natural-vae-2 --out-dir $(NATURAL_MODELS)

# Steps 1-3: natural-vae's first three runs, seed 0, two threads (39 + 18 + 52 minutes, plus a minute each to load).
$(NATURAL_BUILD)/run1.npz:
	mkdir -p $(NATURAL_BUILD)
	$(NATURAL_TRAIN) --data $(NATURAL) --minutes 39 --seed 0 --out $(NATURAL_BUILD)/run1.part.npz
	mv $(NATURAL_BUILD)/run1.part.npz $@
$(NATURAL_BUILD)/run2.npz: $(NATURAL_BUILD)/run1.npz
	$(NATURAL_TRAIN) --data $(NATURAL) --minutes 18 --seed 0 --init $< --out $(NATURAL_BUILD)/run2.part.npz
	mv $(NATURAL_BUILD)/run2.part.npz $@
$(NATURAL_BUILD)/run3.npz: $(NATURAL_BUILD)/run2.npz
	$(NATURAL_TRAIN) --data $(NATURAL) --minutes 52 --seed 0 --init $< --out $(NATURAL_BUILD)/run3.part.npz
	mv $(NATURAL_BUILD)/run3.part.npz $@
# Step 4: the fourth run, 90 minutes at seed 4 with one thread; step 5: frozen as natural-vae (5-10 minutes).
$(NATURAL_BUILD)/run4.npz: $(NATURAL_BUILD)/run3.npz
	$(NATURAL_TRAIN) --data $(NATURAL) --minutes 90 --seed 4 --threads 1 --init $< --out $(NATURAL_BUILD)/run4.part.npz
	mv $(NATURAL_BUILD)/run4.part.npz $@
$(NATURAL_BUILD)/natural-vae.npz: $(NATURAL_BUILD)/run4.npz
	$(NATURAL_FREEZE) $< --data $(NATURAL) --name natural-vae --out-dir $(NATURAL_BUILD)
# Step 6: natural-vae thawed and fine-tuned, 68 minutes at seed 5, one thread, lr 5e-4, on natural/ and
# photos-train/ (less its five development photos).
$(NATURAL_BUILD)/run5.npz: $(NATURAL_BUILD)/natural-vae.npz
	$(NATURAL_TRAIN) --data $(NATURAL) $(NATURAL)/../photos-train --minutes 68 --seed 5 --threads 1 --lr 5e-4 \
		--init $< --out $(NATURAL_BUILD)/run5.part.npz
	mv $(NATURAL_BUILD)/run5.part.npz $@

golden:  ## add missing golden .bbz files (`$(PY) tests/make_golden.py --all` rewrites all)
	$(PY) tests/make_golden.py

clean:  ## remove build outputs
	rm -rf build dist *.egg-info .pytest_cache
