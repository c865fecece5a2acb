# edgekd: the two README commands (`make demo`, `make test`) do all the set-up on a fresh machine.
PY ?= python3
VENV := .venv
DEVICE_VENV := .venv-device
STAMP := $(VENV)/.edgekd-installed
DEVICE_STAMP := $(DEVICE_VENV)/.edgekd-installed
export TF_CPP_MIN_LOG_LEVEL := 2
export TF_ENABLE_ONEDNN_OPTS := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test test-fast device-env device-test benchmark clean browser

$(STAMP): requirements/main.lock requirements/extra.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --no-deps -r requirements/main.lock -r requirements/extra.lock
	$(VENV)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(DEVICE_STAMP): requirements/device.lock requirements/device-extra.lock pyproject.toml
	test -x $(DEVICE_VENV)/bin/python || $(PY) -m venv $(DEVICE_VENV)
	$(DEVICE_VENV)/bin/python -m pip install -q --no-deps -r requirements/device.lock
	$(DEVICE_VENV)/bin/python -m pip install -q --no-deps -r requirements/device-extra.lock
	$(DEVICE_VENV)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

## demo: train the heart-sound teacher and student on the bundled recordings, export, measure, report
demo: $(STAMP)
	$(VENV)/bin/edgekd run recipes/heart.yaml --out runs/heart-demo

## browser: Debian's chromium for the headless browser test of report.html
browser:
	command -v chromium || (apt-get update && apt-get install -y --no-install-recommends chromium)

## test: the whole suite (the runtime's tests run again in the device environment)
test: $(STAMP) $(DEVICE_STAMP) browser
	$(VENV)/bin/python -m pytest -q
	$(DEVICE_VENV)/bin/python -m pytest -q -m device -p no:cacheprovider tests

## device-env: numpy<2 + tflite-runtime 2.14 + onnxruntime, no torch/TF (an older Raspberry Pi set-up)
device-env: $(DEVICE_STAMP)

device-test: $(DEVICE_STAMP)
	$(DEVICE_VENV)/bin/python -m pytest -q -m device -p no:cacheprovider tests

## benchmark: the heart recipe on all 500 dev recordings (needs ../shared/data)
benchmark: $(STAMP)
	$(VENV)/bin/python benchmarks/heart_full.py

clean:
	rm -rf runs .pytest_cache
