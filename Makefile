# The two commands a new user needs: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test bench lint clean

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $(STAMP)

setup: $(STAMP)

## Set up and run the service on its embedded defaults.
run: $(STAMP)
	$(VENV)/bin/ivr serve

## Set up and run the whole test suite.
test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/asr_bench.py
	$(PY) bench/tts_bench.py
	$(PY) bench/replay_bench.py
	$(PY) bench/intents.py
	$(PY) bench/radar_eval.py
	$(PY) bench/radar_ceiling.py
	$(PY) bench/sip_load.py

lint: $(STAMP)
	$(VENV)/bin/ruff check ivr speech prosody tests bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
