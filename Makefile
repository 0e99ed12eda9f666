# bbzip developer commands. `make install` then `make test` is the whole set-up.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Pinned: any looser spec lets pip pull a multi-GB CUDA build of torch.
TORCH := torch==2.13.0
MNIST ?= ../shared/data/mnist
NATURAL ?= ../shared/data/natural

.PHONY: help install test test-slow fuzz bench lint model model-binary model-natural golden clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(PY):
	python3 -m venv $(VENV)

install: $(PY)  ## create .venv, install torch (CPU build) and bbzip with its test, fast and jpeg extras
	$(PIP) install -q --upgrade pip
	TORCH=$(TORCH) sh scripts/install-torch-cpu.sh $(PIP)
	$(PIP) install -q -e '.[test,train,fast,jpeg]'

test:  ## fast test suite (what CI runs)
	$(PY) -m pytest -q

test-slow:  ## the slow tests too (full MNIST, large streams)
	$(PY) -m pytest -q -m ''

fuzz:  ## decompressor fuzzing, 10,000 mutated .bbz files (docs/RELIABILITY.md)
	$(PY) -m tests.fuzz.mutate --cases 10000

bench:  ## size and speed against gzip/bzip2/xz/zstd, MNIST chart, 2 GB pipe; bench-results/ (about 25 min)
	$(PIP) install -q -e '.[bench]'
	OPENBLAS_NUM_THREADS=1 $(PY) -m bench

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

model-natural:  ## train (seed 0, 110 min), freeze and register the natural-image model (about 2 hours on 2 cores)
	$(PY) -m bbzip.training.natural_train --data $(NATURAL) --minutes 110 --seed 0 --out build/natural_float.npz
	$(PY) -m bbzip.natural.freeze build/natural_float.npz --data $(NATURAL) --name natural-vae

golden:  ## add missing golden .bbz files (`$(PY) tests/make_golden.py --all` rewrites all)
	$(PY) tests/make_golden.py

clean:  ## remove build outputs
	rm -rf build dist *.egg-info .pytest_cache
