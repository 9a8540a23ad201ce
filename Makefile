# The two commands a new user needs: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test test-fast check bench lint clean


$(STAMP): pyproject.toml scripts/setup.sh ivr/console/package-lock.json
	bash scripts/setup.sh
	touch $(STAMP)

setup: $(STAMP)

## Set up and run the service on its embedded defaults.
run: $(STAMP)
	$(VENV)/bin/ivr serve

## Set up, check (format, lint, types, import contracts), and run the whole test suite (a
## throwaway PostgreSQL for the store tests included).
test: $(STAMP) check
	IVR_REQUIRE_PG=1 bash scripts/with-postgres.sh $(PY) -m pytest -q --durations=25

## Unit tests only (no model, no SIP): seconds.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m unit

bench: $(STAMP)
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) bench/asr_bench.py
	$(PY) bench/tts_bench.py
	$(PY) bench/replay_bench.py
	$(PY) bench/intents.py
	$(PY) bench/turns.py
	$(PY) bench/radar_select.py
	$(PY) bench/radar_eval.py
	$(PY) bench/radar_ceiling.py
	$(PY) bench/speech_batch.py
	$(PY) bench/sip_load.py
	$(PY) bench/sip_load.py --calls 24,48 --spread 8
	$(PY) bench/sip_load.py --calls 50,100,200 --silent 40
	bash scripts/with-postgres.sh $(PY) bench/store.py
	bash scripts/with-postgres.sh $(PY) bench/transfer.py
	$(PY) bench/soak.py
	$(PY) bench/console.py
	$(PY) bench/learning.py
	$(PY) bench/conversations.py
	$(PY) bench/digits.py --set dev
	$(PY) bench/digits.py --set check
	$(PY) bench/rescore.py
	$(PY) bench/softphone.py
	$(PY) bench/softphone_floor.py
	$(PY) bench/softphone_delay.py

## Format, lint, types and the import contracts: seconds, and part of `make test`.
check: $(STAMP)
	$(VENV)/bin/ruff format --check ivr speech prosody tests bench
	$(VENV)/bin/ruff check ivr speech prosody tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

lint: check

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
