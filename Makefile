# edgekd: the two README commands (`make demo`, `make test`) do all the set-up on a fresh machine.
PY ?= python3
VENV := .venv
DEVICE_VENV := .venv-device
STAMP := $(VENV)/.edgekd-installed
DEVICE_STAMP := $(DEVICE_VENV)/.edgekd-installed
export TF_CPP_MIN_LOG_LEVEL := 2
export TF_ENABLE_ONEDNN_OPTS := 0
export PYTHONDONTWRITEBYTECODE := 1
# two pytest-xdist workers (the machine's 2 cores); tests/conftest.py groups what must share a worker
PARALLEL ?= -n 2 --dist loadgroup --no-loadscope-reorder

.PHONY: demo test test-setup system-deps test-fast device-env device-test benchmark ablation clean browser sshd-deps postgres-deps arm64-root lint sweep-benchmark cc

$(STAMP): requirements/main.lock requirements/extra.lock pyproject.toml examples/plugin/pyproject.toml
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	# every pin carries the sha256 of its file (requirements/hash_locks.py writes them): nothing else installs
	$(VENV)/bin/python -m pip install -q --no-deps --require-hashes -r requirements/main.lock -r requirements/extra.lock
	$(VENV)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	# the example plugin (a model, a task and a front-end registered through entry points), used by its test
	$(VENV)/bin/python -m pip install -q --no-deps --no-build-isolation -e examples/plugin
	touch $@

$(DEVICE_STAMP): requirements/device.lock requirements/device-extra.lock pyproject.toml
	test -x $(DEVICE_VENV)/bin/python || $(PY) -m venv $(DEVICE_VENV)
	$(DEVICE_VENV)/bin/python -m pip install -q --no-deps --require-hashes -r requirements/device.lock
	$(DEVICE_VENV)/bin/python -m pip install -q --no-deps --require-hashes -r requirements/device-extra.lock
	$(DEVICE_VENV)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

## demo: distil the heart-sound student from the shipped teacher on the bundled recordings, export, measure, report
demo: $(STAMP)
	$(VENV)/bin/edgekd run recipes/heart.yaml --out runs/heart-demo

## browser: Debian's chromium for the headless browser test of report.html
browser:
	command -v chromium || (apt-get update && apt-get install -y --no-install-recommends chromium)

## cc: a host C compiler (Debian's gcc), for the tests that compile the MCU bundle's C files (the model as a C array,
## the front-end in C99: tests/test_c_frontend.py, tests/test_bundle.py)
cc:
	command -v cc || (apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev)

## sshd-deps: Debian's OpenSSH server and client, for the ssh runner's tests against a loopback sshd
sshd-deps:
	test -x /usr/sbin/sshd && command -v ssh && command -v scp || \
	  (apt-get update && apt-get install -y --no-install-recommends openssh-server openssh-client)

## postgres-deps: Debian's PostgreSQL server, for the test of two `edgekd sweep` workers sharing one study
## (the test starts its own cluster on a free local port and removes it)
postgres-deps:
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  (apt-get update && apt-get install -y --no-install-recommends postgresql)

## arm64-root: the emulated runner's arm64 Debian root (qemu-user + ARM wheels of LiteRT/ORT), built once
## (about 6 min) into ~/.cache/edgekd/arm64-root or $$EDGEKD_ARM64_ROOT; later calls only re-check it
arm64-root: $(STAMP) requirements/arm64-root.lock
	$(VENV)/bin/python -m edgekd.runners.emulated_root build --lock requirements/arm64-root.lock

## test: the whole suite (the runtime's tests run again in the device environment)
test:
	$(MAKE) -j3 test-setup
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest -q $(PARALLEL)
	$(DEVICE_VENV)/bin/python -m pytest -q -m device -p no:cacheprovider tests

## test-setup: both venvs, the Debian packages and the arm64 root, the independent ones at once (make -j3)
test-setup: $(STAMP) $(DEVICE_STAMP) system-deps arm64-root

## system-deps: what cc, browser, sshd-deps and postgres-deps install, in one apt-get call (two would race for
## dpkg's lock when the set-up runs in parallel)
system-deps:
	@missing=""; \
	command -v cc >/dev/null || missing="$$missing gcc libc6-dev"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	{ test -x /usr/sbin/sshd && command -v ssh && command -v scp; } >/dev/null || \
	  missing="$$missing openssh-server openssh-client"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -z "$$missing" || { apt-get update && apt-get install -y --no-install-recommends $$missing; }

## lint: the layering contracts of .importlinter
lint: $(STAMP)
	$(VENV)/bin/lint-imports

## device-env: numpy<2 + tflite-runtime 2.14 + onnxruntime, no torch/TF (an older Raspberry Pi set-up)
device-env: $(DEVICE_STAMP)

device-test: $(DEVICE_STAMP)
	$(DEVICE_VENV)/bin/python -m pytest -q -m device -p no:cacheprovider tests

## benchmark: the shipped heart models on all 1,084 dev recordings (teacher, students of seeds 0-2, within-database
## MAcc with intervals) and the plant models on the time-based split (needs ../shared/data; resumable)
benchmark: $(STAMP)
	$(VENV)/bin/python benchmarks/heart_deploy.py
	$(VENV)/bin/python benchmarks/plant_deploy.py

## ablation: teacher / PTQ / scratch / KD / KD+pruning (KD or CE recovery), 3 seeds, int8 TFLite, on the full heart
## set and the plant time split (reuses the shipped teachers; resumable; benchmarks/results/ablation_{heart,plant}.*)
ablation: $(STAMP)
	$(VENV)/bin/python benchmarks/ablation.py --task heart --epochs 20 --recover-epochs 5
	$(VENV)/bin/python benchmarks/ablation.py --task plant --epochs 60 --recover-epochs 15

## sweep-benchmark: `edgekd sweep` on the full heart dev set for rpi4's budgets, 30 trials (about 90 min on one
## core; resumable: the study is runs/sweep-heart/sweep.journal) → benchmarks/results/sweep_heart.*
sweep-benchmark: $(STAMP)
	$(VENV)/bin/python benchmarks/sweep_heart.py --trials 30

clean:
	rm -rf runs .pytest_cache
