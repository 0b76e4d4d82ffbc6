# The U-Net course kit. Everything runs with .venv/bin first on PATH (nbgrader calls `alembic` from PATH).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
# Quiet TensorFlow's start-up chatter in every command below.
export TF_CPP_MIN_LOG_LEVEL ?= 2

DATA_DIR := data/synthetic
DATA_FRAMES ?= 240
PYTEST_ARGS ?=
# Test processes (pytest-xdist). The suite is CPU-bound on the 2-core machines CI uses once 3 processes run (one
# often waits on a container, a server or a lock); 2 left a core idle a quarter of the time. The tests that share a
# server, the Docker daemon or a browser run in one process (--dist loadgroup; tests/xdist_groups.py), which starts it once.
TEST_WORKERS ?= 3
PYTEST_PARALLEL := -n $(TEST_WORKERS) --dist loadgroup
# The inner loop's tier: no notebook or kernel runs, no servers, containers, clusters or browsers.
FAST_TIER := not slow and not docker and not browser and not slurm and not postgres and not hub
ASSIGNMENT ?= unet
LAB_ARGS ?=

.PHONY: help setup data demo hub hub-deps test test-fast test-keras2 release lab lab-instructor check lock clean system-deps image image-lock gradescope slurm-demo
GPU ?=
IMAGE_BUILD := $(if $(GPU),gpu,cpu)

help:  ## List the commands
	@grep -E '^[a-z0-9-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	@touch $@

$(DATA_DIR)/manifest.json: | $(VENV)/.installed
	$(BIN)/python -m data_fetch synthetic --frames $(DATA_FRAMES) --dest $(DATA_DIR)

setup: $(VENV)/.installed $(DATA_DIR)/manifest.json  ## Virtual environment, pinned packages and the synthetic dataset

data: $(DATA_DIR)/manifest.json  ## Make the offline synthetic CARLA-like dataset

release: setup  ## Regenerate release/ from source/ with nbgrader
	$(BIN)/python -m autograder release

demo: setup  ## Set up, regenerate the release, grade the example submissions, print the grades (ASSIGNMENT=unet_variants or unet_attention for the others)
	$(BIN)/python -m autograder demo $(ASSIGNMENT)

slurm-demo: setup  ## Grade the demo submissions as a SLURM array job of 2 shards (starts a one-machine cluster when none answers; root)
	$(BIN)/python -m autograder slurm-demo $(ASSIGNMENT)

# configurable-http-proxy, the course hub's proxy (npm's; Node.js 18+ with npm must be installed), inside the venv.
HUB_PROXY_VERSION := 5.3.0
HUB_PROXY := $(VENV)/hub-proxy/node_modules/.bin/configurable-http-proxy
HUB_ARGS ?=

$(HUB_PROXY): | $(VENV)/.installed
	@command -v npm >/dev/null || { echo "Error: npm is missing; install Node.js 18 or newer with npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	npm install --silent --no-audit --no-fund --prefix $(VENV)/hub-proxy configurable-http-proxy@$(HUB_PROXY_VERSION)
	@test -x $@

hub-deps: $(HUB_PROXY)  ## The course hub's proxy (configurable-http-proxy from npm, into .venv/hub-proxy)

hub: setup hub-deps  ## The course on a real JupyterHub on this machine (root): make hub HUB_ARGS="--roster roster.csv"
	$(BIN)/python -m autograder hub $(HUB_ARGS)

system-deps:  ## Debian packages the tests use (PostgreSQL, Chromium, Docker, mmdebstrap, SLURM, patchelf for the hub; a system Python, useradd, runuser and libseccomp for the sandbox tests); needs root, apt-get only when one is missing
	./.ci/system-deps.sh postgresql chromium docker.io mmdebstrap slurm-wlm munge python3.11-minimal passwd util-linux libseccomp2 patchelf

test: setup system-deps hub-deps  ## Set up, then run the whole test suite (what CI runs), then tests/test_utils under Keras 2
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-keras2

test-fast: setup  ## The quick tier for edits (under 3 minutes): every test that runs no notebook and needs no service
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "$(FAST_TIER)" $(PYTEST_ARGS)

test-keras2: setup  ## tests/test_utils again under Keras 2 (tf-keras); part of make test
	TF_USE_LEGACY_KERAS=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_utils

check: setup  ## Grade one notebook with the full autograder: make check NB=path/to/any-name.ipynb
	@test -n "$(NB)" || { echo "Error: name the notebook, e.g. make check NB=release/unet/Image_segmentation_Unet.ipynb" >&2; exit 2; }
	@$(BIN)/python -m autograder check "$(NB)" $(if $(filter command line,$(origin ASSIGNMENT)),--assignment "$(ASSIGNMENT)")

image:  ## Build the grading image unet-grader:cpu (GPU=1: unet-grader:gpu); BASE=... picks the base image
	./autograder/platforms/image/build.sh $(IMAGE_BUILD)

image-lock:  ## Re-resolve the grading image's pinned packages (both builds) for the base image's Python
	@for b in cpu gpu; do \
	  docker=$$(command -v /usr/bin/docker || command -v docker); base=$$(./autograder/platforms/image/base.sh); \
	  $$docker run --rm -v /etc/ssl/certs/ca-certificates.crt:/ca.crt:ro -e PIP_CERT=/ca.crt \
	    -v $(CURDIR)/autograder/platforms/image:/req $$base sh -c "python3 -m venv /tmp/v && /tmp/v/bin/python /req/lock.py $$b"; \
	done

gradescope: setup  ## Build gradescope-unet.zip (setup.sh + run_autograder + the kit) for Gradescope's own image; ASSIGNMENT=...
	$(BIN)/python -m autograder gradescope-zip $(ASSIGNMENT)

lock:  ## Re-resolve the pinned dependency set into requirements.lock
	$(BIN)/python -m pip freeze --exclude-editable | grep -iv '^unet-course-kit' > requirements.lock.new
	{ echo '# Full resolved dependency set for the kit (pip constraints file). Regenerate with: make lock'; cat requirements.lock.new; } > requirements.lock
	rm requirements.lock.new

clean:  ## Remove grading outputs (keeps .venv and data)
	rm -rf submitted autograded feedback gradebook.db grades.csv grades.png

lab: setup  ## JupyterLab for students on release/, with nbgrader's Validate button
	$(BIN)/python -m autograder lab $(LAB_ARGS)

lab-instructor: setup  ## JupyterLab for instructors on the course root, with Formgrader and Create Assignment
	$(BIN)/python -m autograder lab --instructor $(LAB_ARGS)
